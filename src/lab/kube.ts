/**
 * The lab's side of the stand-in Kubernetes API (kubeapi/): starting it as a daemon, the
 * kubeconfig, and the small client `lab up` / `lab pod` use to act as the node's kubelet would
 * (register Nodes, create Pods, write pod status).
 */
import { labTimeoutMs } from './vm/timeouts.js';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { release } from 'node:os';
import { TesseraError } from '../lib/errors.js';
import { run } from '../lib/exec.js';
import { repoRoot } from '../lib/paths.js';
import { sleep } from '../lib/clock.js';
import { isRunning, startDaemon } from './kernel.js';
import { siblingScriptArgv } from './etcd-link.js';
import { renderKubeconfig } from './kubeapi/index.js';
import type { KubeApiState, LabState, NodeState, PodState, ProcessRecord } from './state.js';
import { podResource } from './resources.js';

export const KUBE_NODE_VERSION = 'v1.22.3-tessera-lab';

export function startKubeApi(
  dir: string,
  etcdEndpoints: readonly string[],
  opts: { bookmarkIntervalMs?: number | undefined } = {},
): ProcessRecord {
  const argv = [
    ...siblingScriptArgv('kubeapi/main'),
    '--etcd',
    etcdEndpoints.join(','),
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--socket',
    join(dir, 'kubeapi.sock'),
    '--info',
    join(dir, 'kubeapi.json'),
  ];
  if (opts.bookmarkIntervalMs !== undefined) argv.push('--bookmark-interval-ms', String(opts.bookmarkIntervalMs));
  return startDaemon('kubeapi', argv, { log: join(dir, 'logs', 'kubeapi.log') });
}

/** The lab's kubelet stand-in (kubelet.ts): tears down lab pods deleted through the API. */
export function startLabKubelet(dir: string, url: string): ProcessRecord {
  return startDaemon('kubelet', [...siblingScriptArgv('kubelet'), '--dir', dir, '--url', url], {
    log: join(dir, 'logs', 'kubelet.log'),
  });
}

export async function waitKubeApi(
  proc: ProcessRecord,
  dir: string,
  clusterName: string,
  timeoutMs: number,
): Promise<Omit<KubeApiState, 'datastoreMirror'>> {
  const file = join(dir, 'kubeapi.json');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(file)) {
      const info = JSON.parse(readFileSync(file, 'utf8')) as { url: string; socketPath: string };
      const kubeconfig = join(dir, 'kubeconfig');
      writeFileSync(kubeconfig, renderKubeconfig({ clusterName, server: info.url }), { mode: 0o600 });
      return { url: info.url, socketPath: info.socketPath, kubeconfig };
    }
    if (!isRunning(proc)) {
      const tail =
        proc.log && existsSync(proc.log) ? readFileSync(proc.log, 'utf8').trim().split('\n').slice(-5).join('\n') : '';
      throw new TesseraError(
        'exec-failed',
        `cannot start the lab's Kubernetes API: it exited${tail ? `: ${tail}` : ''}`,
      );
    }
    if (Date.now() > deadline)
      throw new TesseraError('timeout', `cannot start the lab's Kubernetes API: not serving after ${timeoutMs} ms`);
    await sleep(50);
  }
}

type Obj = Record<string, unknown>;

/** A minimal JSON client for the stand-in API (the lab's own calls; users have kubectl). */
export class LabKubeClient {
  constructor(private readonly url: string) {}

  /**
   * One API call; retried (as client-go retries) while the API answers 429, 500 or 503 — the
   * stand-in API answers 500 when its etcd call failed, e.g. on a starved VM kernel — for up to
   * ~10 s (scaled by TESSERA_LAB_TIMEOUT_SCALE).
   */
  private async call(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<{ status: number; body: Obj }> {
    const deadline = Date.now() + labTimeoutMs(10_000);
    for (let delay = 200; ; delay = Math.min(delay * 2, 2000)) {
      const r = await this.callOnce(method, path, body, contentType);
      if (![429, 500, 503].includes(r.status) || Date.now() + delay > deadline) return r;
      await new Promise((res) => setTimeout(res, delay));
    }
  }

  private async callOnce(
    method: string,
    path: string,
    body: unknown,
    contentType: string,
  ): Promise<{ status: number; body: Obj }> {
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers: body === undefined ? {} : { 'Content-Type': contentType },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new TesseraError('unavailable', `cannot ${method} ${path} on the lab's Kubernetes API at ${this.url}`, {
        cause: err,
      });
    }
    const text = await res.text();
    let parsed: Obj = {};
    try {
      parsed = JSON.parse(text) as Obj;
    } catch {
      // not JSON: keep the status only
    }
    return { status: res.status, body: parsed };
  }

  private fail(what: string, r: { status: number; body: Obj }): never {
    const code =
      r.status === 404
        ? 'not-found'
        : r.status === 409
          ? 'conflict'
          : r.status === 422 || r.status === 400
            ? 'validation'
            : 'exec-failed';
    throw new TesseraError(
      code,
      `cannot ${what}: the Kubernetes API answered ${r.status}: ${String(r.body['message'] ?? '')}`,
    );
  }

  /** Creates unless it exists; true when it created. */
  async ensure(path: string, obj: Obj, what: string): Promise<boolean> {
    const r = await this.call('POST', path, obj);
    if (r.status === 201 || r.status === 200) return true;
    if (r.status === 409 && r.body['reason'] === 'AlreadyExists') return false;
    this.fail(what, r);
  }

  async create(path: string, obj: Obj, what: string): Promise<Obj> {
    const r = await this.call('POST', path, obj);
    if (r.status === 201 || r.status === 200) return r.body;
    this.fail(what, r);
  }

  async mergePatch(path: string, patch: Obj, what: string): Promise<Obj> {
    const r = await this.call('PATCH', path, patch, 'application/merge-patch+json');
    if (r.status === 200) return r.body;
    this.fail(what, r);
  }

  async get(path: string, what: string): Promise<Obj | undefined> {
    const r = await this.call('GET', path);
    if (r.status === 200) return r.body;
    if (r.status === 404) return undefined;
    this.fail(what, r);
  }

  /** Idempotent: not-found is success (false). */
  async delete(path: string, what: string): Promise<boolean> {
    const r = await this.call('DELETE', path);
    if (r.status === 200) return true;
    if (r.status === 404) return false;
    this.fail(what, r);
  }
}

export function kubeNodeObject(s: LabState, n: NodeState): Obj {
  const subnet = `subnet-${n.subnet}`;
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: n.name,
      labels: {
        'kubernetes.io/hostname': n.name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        'tessera.dev/lab': s.name,
        'tessera.dev/subnet': subnet,
      },
    },
    spec: {},
  };
}

export function kubeNodeStatus(n: NodeState, nowIso: string): Obj {
  return {
    status: {
      addresses: [...n.ips.map((ip) => ({ type: 'InternalIP', address: ip })), { type: 'Hostname', address: n.name }],
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'KubeletReady',
          message: 'lab node (network namespace)',
          lastHeartbeatTime: nowIso,
          lastTransitionTime: nowIso,
        },
      ],
      nodeInfo: {
        kubeletVersion: KUBE_NODE_VERSION,
        kubeProxyVersion: KUBE_NODE_VERSION,
        osImage: 'Tessera lab (network namespace)',
        kernelVersion: release(),
        containerRuntimeVersion: 'tessera-lab://0.1',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
    },
  };
}

export function kubePodObject(p: Omit<Parameters<typeof podResource>[0], 'ips'>): Obj {
  // The object the lab mirrors into the datastore, as posted before the pod has addresses (no status).
  return { ...podResource({ ...p, ips: [] }) };
}

/** The status a kubelet writes once the pod's sandbox is networked and its container runs. */
export function kubePodStatus(pod: PodState, hostIP: string | undefined, nowIso: string): Obj {
  const cond = (type: string) => ({ type, status: 'True', lastProbeTime: null, lastTransitionTime: nowIso });
  return {
    status: {
      phase: 'Running',
      conditions: [cond('Initialized'), cond('Ready'), cond('ContainersReady'), cond('PodScheduled')],
      hostIP,
      podIP: pod.ips[0],
      podIPs: pod.ips.map((ip) => ({ ip })),
      startTime: nowIso,
      containerStatuses: [
        {
          name: 'server',
          ready: true,
          started: true,
          restartCount: 0,
          image: 'tessera/lab-server',
          imageID: '',
          containerID: `tessera-lab://${pod.containerId}`,
          state: { running: { startedAt: nowIso } },
        },
      ],
      qosClass: 'BestEffort',
    },
  };
}

export const podsPath = (ns: string, name?: string) =>
  `/api/v1/namespaces/${encodeURIComponent(ns)}/pods${name ? `/${encodeURIComponent(name)}` : ''}`;

/**
 * The kubectl Tessera uses: $TESSERA_KUBECTL, else Debian's kubernetes-client (1.20) that
 * scripts/kubectl.sh unpacks into /var/cache/tessera (installing it when missing).
 */
export async function kubectlPath(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const override = env['TESSERA_KUBECTL'];
  if (override) return override;
  const r = await run([join(repoRoot(), 'scripts', 'kubectl.sh')], { timeoutMs: 300_000, check: false });
  const path = r.stdout.trim().split('\n').pop() ?? '';
  if (r.code !== 0 || !path || !existsSync(path)) {
    throw new TesseraError(
      'unsupported',
      `cannot find kubectl: scripts/kubectl.sh failed (exit ${r.code}): ${r.stderr.trim()}`,
    );
  }
  return path;
}

/** Runs kubectl against the lab's API; throws with kubectl's own message on failure. */
export async function kubectl(
  s: LabState,
  args: string[],
  opts: { kubectl?: string; input?: string } = {},
): Promise<string> {
  if (!s.kube)
    throw new TesseraError('unsupported', `lab "${s.name}" runs without the Kubernetes API (lab up --no-kube-api)`);
  const bin = opts.kubectl ?? (await kubectlPath());
  const r = await run([bin, ...args], {
    env: { ...process.env, KUBECONFIG: s.kube.kubeconfig },
    input: opts.input,
    check: false,
    timeoutMs: labTimeoutMs(60_000),
  });
  if (r.code !== 0)
    throw new TesseraError('exec-failed', `kubectl ${args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}
