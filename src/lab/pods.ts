/**
 * Pods: a netns wired by the real CNI plugin, run exactly as a container runtime on the node would
 * (`ip netns exec <node> <cniPath>/tessera-cni`, CNI_* env, network config on stdin), plus one
 * echo server per port (see echo-server.ts: socat for TCP, a single perl socket for UDP).
 * The pod file is written (phase creating) BEFORE the netns exists, so down/delete can undo a
 * half-created pod; each side effect of create registers an undo step, one catch unwinds them.
 */
import { labTimeoutMs } from './vm/timeouts.js';
import { existsSync, readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { run } from '../lib/exec.js';
import { echoServerArgv } from './echo-server.js';
import { TesseraError, describeError } from '../lib/errors.js';
import { addNetns, deleteNetns, killNetnsProcesses, startDaemon, stopProcess } from './kernel.js';
import { DEFAULT_POD_PORTS, SCTP_POD_PORTS, parsePodRef, pickNode, podNetnsName, type PodPort } from './plan.js';
import type { LabState, NodeState, PodState, ProcessRecord } from './state.js';
import { podExists, readPod, readPods, removePod, withLabLock, writePod } from './store.js';
import { LabDatastore, namespaceResource, podResource } from './resources.js';
import { LabKubeClient, kubePodObject, kubePodStatus, podsPath } from './kube.js';

/** Whether the lab itself writes Namespaces and Pods into Tessera's datastore (see KubeApiState). */
function mirrors(s: LabState): boolean {
  return s.kube === undefined || s.kube.datastoreMirror;
}

export interface PodCreateOptions {
  node?: string | undefined;
  labels?: Record<string, string> | undefined;
  serviceAccount?: string | undefined;
  ports?: PodPort[] | undefined;
  onProgress?: (line: string) => void;
}

export function parseRef(ref: string): { namespace: string; name: string } {
  const r = parsePodRef(ref);
  if ('error' in r) throw new TesseraError('usage', r.error);
  return r;
}

function cniEnv(s: LabState, command: 'ADD' | 'DEL' | 'CHECK', pod: PodState): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: command,
    CNI_CONTAINERID: pod.containerId,
    CNI_NETNS: `/var/run/netns/${pod.netns}`,
    CNI_IFNAME: 'eth0',
    CNI_PATH: s.cniPath,
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${pod.namespace};K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=${pod.containerId}`,
  };
}

function networkConfig(n: NodeState): string {
  // The file on disk is what a runtime reads; fall back to rendering it if it went missing.
  if (existsSync(n.cniConfig)) {
    const conf = JSON.parse(readFileSync(n.cniConfig, 'utf8')) as Record<string, unknown>;
    return JSON.stringify(conf);
  }
  throw new TesseraError('not-found', `node "${n.name}" has no CNI config "${n.cniConfig}"`);
}

interface CniResult {
  ips?: { address: string }[];
}

/** Runs the CNI plugin for a pod inside its node's netns; returns the plugin's stdout result. */
export async function runCni(
  s: LabState,
  n: NodeState,
  command: 'ADD' | 'DEL' | 'CHECK',
  pod: PodState,
): Promise<CniResult> {
  const plugin = join(s.cniPath, 'tessera-cni');
  if (!existsSync(plugin)) {
    throw new TesseraError(
      'unsupported',
      `cannot run CNI ${command} for pod "${pod.namespace}/${pod.name}": plugin "${plugin}" is not built (run make build)`,
    );
  }
  const r = await run([plugin], {
    netns: n.netns,
    env: cniEnv(s, command, pod),
    input: networkConfig(n),
    check: false,
    timeoutMs: labTimeoutMs(60_000),
  });
  if (r.code !== 0) {
    let msg = r.stderr.trim();
    let cniCode: number | undefined;
    try {
      const e = JSON.parse(r.stdout) as { code?: number; msg?: string; details?: string };
      msg = [e.msg, e.details].filter(Boolean).join(': ') || msg;
      cniCode = e.code;
    } catch {
      // not a CNI error object
    }
    throw new TesseraError(
      'exec-failed',
      `CNI ${command} for pod "${pod.namespace}/${pod.name}" on node "${n.name}" failed (exit ${r.code}): ${msg}`,
      {
        details: { stdout: r.stdout, stderr: r.stderr, cniCode },
      },
    );
  }
  if (command !== 'ADD' || r.stdout.trim() === '') return {};
  try {
    return JSON.parse(r.stdout) as CniResult;
  } catch (err) {
    throw new TesseraError(
      'exec-failed',
      `CNI ADD for pod "${pod.namespace}/${pod.name}" printed no JSON result: "${r.stdout.slice(0, 200)}"`,
      { cause: err },
    );
  }
}

/** CNI's "try again later" (the plugin has not seen the pod in the datastore yet). */
const CNI_TRY_AGAIN_LATER = 11;

/**
 * CNI ADD, retried as a kubelet retries it while the plugin answers "try again later": with
 * kube-controllers mirroring pods from the API, the ADD can run before the controller has written
 * the pod into Tessera's datastore (tens of ms, seconds on a loaded machine).
 */
async function addAsKubelet(s: LabState, n: NodeState, pod: PodState): Promise<CniResult> {
  const deadline = Date.now() + labTimeoutMs(30_000);
  for (;;) {
    try {
      return await runCni(s, n, 'ADD', pod);
    } catch (err) {
      const retry =
        err instanceof TesseraError &&
        (err.details as { cniCode?: number } | undefined)?.cniCode === CNI_TRY_AGAIN_LATER;
      if (!retry || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * Starts the pod's socat servers and returns once every server socket is bound, so a pod is
 * reachable the moment `pod create` returns (a connection racing socat's bind would be refused).
 * A server that does not bind within `timeoutMs` (a port in use, say) is an error naming its log.
 */
export async function startPodServers(
  s: LabState,
  pod: PodState,
  timeoutMs = labTimeoutMs(15_000),
): Promise<ProcessRecord[]> {
  const log = join(s.dir, 'logs', `pod-${pod.namespace}.${pod.name}.log`);
  const servers = pod.ports.map((p) => {
    // TCP6/UDP6 with ipv6only=0 serve both families on one socket.
    return startDaemon(`server:${p.name}`, echoServerArgv(p.protocol, p.port), { netns: pod.netns, log });
  });
  const want = pod.ports.map((p) => `${p.protocol.toLowerCase()}:${p.port}`);
  try {
    await waitListening(pod.netns, want, timeoutMs, `pod "${pod.namespace}/${pod.name}"`, log);
  } catch (e) {
    for (const p of servers) await stopProcess(p, 500);
    throw e;
  }
  return servers;
}

/** Waits until every `tcp:PORT` / `udp:PORT` in `want` has a bound socket in `netns`. */
export async function waitListening(
  netns: string,
  want: readonly string[],
  timeoutMs: number,
  what: string,
  log: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // `S`: SCTP sockets (ss names them "sctp"); only asked for when one is wanted.
    const flags = want.some((w) => w.startsWith('sctp:')) ? '-HlntuS' : '-Hlntu';
    const r = await run(['ss', flags], { netns, check: false });
    const bound = new Set(
      r.stdout
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((f) => f.length >= 5)
        .map((f) => `${f[0]}:${f[4]!.slice(f[4]!.lastIndexOf(':') + 1)}`),
    );
    const missing = want.filter((w) => !bound.has(w));
    if (!missing.length) return;
    if (Date.now() > deadline)
      throw new TesseraError(
        'exec-failed',
        `${what}: ${missing.join(', ')} not listening after ${timeoutMs} ms (see ${log})`,
      );
    await new Promise((r2) => setTimeout(r2, 10));
  }
}

function stripPrefix(cidr: string): string {
  const slash = cidr.indexOf('/');
  return slash < 0 ? cidr : cidr.slice(0, slash);
}

export async function podCreate(s: LabState, ref: string, opts: PodCreateOptions = {}): Promise<PodState> {
  const { namespace, name } = parseRef(ref);
  if (s.phase !== 'ready')
    throw new TesseraError('unavailable', `cannot create pod "${ref}": lab "${s.name}" is ${s.phase}, not ready`);
  if (opts.node !== undefined && !s.nodes.some((n) => n.name === opts.node)) {
    throw new TesseraError(
      'not-found',
      `cannot create pod "${ref}": lab "${s.name}" has no node "${opts.node}" (nodes: ${s.nodes.map((n) => n.name).join(', ')})`,
    );
  }
  const ports = opts.ports ?? [...DEFAULT_POD_PORTS, ...(s.sctpSockets ? SCTP_POD_PORTS : [])];
  // Reserve the pod (duplicate check + node choice) atomically against parallel creates.
  const pod = await withLabLock(s.dir, () => {
    if (podExists(s.dir, namespace, name))
      throw new TesseraError('already-exists', `cannot create pod "${ref}": it already exists in lab "${s.name}"`);
    const counts: Record<string, number> = {};
    for (const p of readPods(s.dir)) counts[p.node] = (counts[p.node] ?? 0) + 1;
    const node =
      opts.node ??
      pickNode(
        s.nodes.map((n) => n.name),
        counts,
      )!;
    const p: PodState = {
      namespace,
      name,
      node,
      netns: podNetnsName(s.name, namespace, name),
      containerId: randomBytes(16).toString('hex'),
      ips: [],
      labels: opts.labels ?? { app: name },
      serviceAccount: opts.serviceAccount ?? 'default',
      ports,
      servers: [],
      phase: 'creating',
    };
    writePod(s.dir, p);
    return p;
  });
  const node = s.nodes.find((n) => n.name === pod.node)!;
  const undo: (() => Promise<void>)[] = [async () => removePod(s.dir, namespace, name)];
  const ds = new LabDatastore(s.etcd?.endpoints ?? []);
  const kube = s.kube ? new LabKubeClient(s.kube.url) : undefined;
  try {
    if (kube) {
      // As a user (or a Deployment) would: the Pod exists in the API first, then the kubelet on
      // its node networks it (CNI ADD) and reports its status.
      await kube.ensure(
        '/api/v1/namespaces',
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
        `create Namespace "${namespace}"`,
      );
      await kube.ensure(
        `/api/v1/namespaces/${namespace}/serviceaccounts`,
        { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: pod.serviceAccount, namespace } },
        `create ServiceAccount "${namespace}/${pod.serviceAccount}"`,
      );
      undo.push(async () => {
        await kube.delete(podsPath(namespace, name), `delete Pod "${ref}"`);
      });
      const created = await kube.create(podsPath(namespace), kubePodObject(pod), `create Pod "${ref}"`);
      const uid = (created['metadata'] as { uid?: unknown } | undefined)?.uid;
      if (typeof uid === 'string') pod.kubeUid = uid;
    }
    if (mirrors(s)) {
      await ds.ensure(namespaceResource(namespace));
      undo.push(() => ds.delete(podResource(pod)));
      await ds.put(podResource(pod));
    }
    undo.push(() => deleteNetns(pod.netns));
    await addNetns(pod.netns);
    undo.push(async () => {
      await runCni(s, node, 'DEL', pod).catch(() => undefined);
    });
    const result = await addAsKubelet(s, node, pod);
    pod.ips = (result.ips ?? []).map((ip) => stripPrefix(ip.address));
    if (pod.ips.length === 0) throw new TesseraError('exec-failed', `CNI ADD for pod "${ref}" returned no IPs`);
    writePod(s.dir, pod);
    undo.push(() => killNetnsProcesses(pod.netns));
    pod.servers = await startPodServers(s, pod);
    pod.phase = 'ready';
    writePod(s.dir, pod);
    if (mirrors(s)) await ds.put(podResource(pod));
    if (kube) {
      const hostIP = node.ips[0];
      await kube.mergePatch(
        `${podsPath(namespace, name)}/status`,
        kubePodStatus(pod, hostIP, new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')),
        `write the status of Pod "${ref}"`,
      );
    }
    opts.onProgress?.(`pod ${ref} on ${pod.node}: ${pod.ips.join(', ')}`);
    return pod;
  } catch (err) {
    for (const step of undo.reverse()) {
      try {
        await step();
      } catch {
        // best effort: `lab down` sweeps anything left
      }
    }
    throw err instanceof TesseraError
      ? err
      : new TesseraError('exec-failed', `cannot create pod "${ref}": ${describeError(err)}`, { cause: err });
  } finally {
    await ds.close();
  }
}

/** CNI DEL, servers, netns, Pod resource, pod file. Idempotent: a missing pod is success. */
export async function podDelete(s: LabState, ref: string): Promise<boolean> {
  const { namespace, name } = parseRef(ref);
  const pod = readPod(s.dir, namespace, name);
  if (!pod) return false;
  // Tells the lab kubelet (kubelet.ts), which sees the API delete below, that this pod is in hand.
  if (pod.phase !== 'deleting') writePod(s.dir, { ...pod, phase: 'deleting' });
  const node = s.nodes.find((n) => n.name === pod.node);
  for (const p of pod.servers) await stopProcess(p, 500);
  await killNetnsProcesses(pod.netns, 500);
  let cniError: unknown;
  if (node) {
    try {
      await runCni(s, node, 'DEL', pod);
    } catch (err) {
      // A plugin that is not built never added anything; any other DEL failure is reported after
      // the rest of the cleanup (the netns must still go).
      if (!(err instanceof TesseraError && err.code === 'unsupported')) cniError = err;
    }
  }
  await deleteNetns(pod.netns);
  if (s.kube) {
    try {
      await new LabKubeClient(s.kube.url).delete(podsPath(namespace, name), `delete Pod "${ref}"`);
    } catch (err) {
      cniError ??= err;
    }
  }
  if (mirrors(s)) {
    const ds = new LabDatastore(s.etcd?.endpoints ?? []);
    try {
      await ds.delete(podResource(pod));
    } finally {
      await ds.close();
    }
  }
  removePod(s.dir, namespace, name);
  if (cniError)
    throw new TesseraError('exec-failed', `pod "${ref}" removed, but CNI DEL or the API delete failed`, {
      cause: cniError,
    });
  return true;
}

export function findPod(s: LabState, ref: string): PodState {
  const { namespace, name } = parseRef(ref);
  const pod = readPod(s.dir, namespace, name);
  if (!pod) throw new TesseraError('not-found', `lab "${s.name}" has no pod "${ref}"`);
  return pod;
}
