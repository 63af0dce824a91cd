/**
 * `lab up`, `lab down`, `lab status`, `lab node stop|start`.
 * Every resource is recorded in state.json before it is created; `down` works from that record,
 * a name sweep of `ip netns` and a sweep of processes whose argv names the lab dir, so it also
 * cleans up after a crashed or half-finished `up`.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { TesseraError, describeError, validationError } from '../lib/errors.js';
import { systemClock } from '../lib/clock.js';
import { readCliConfig, removeContext, setContext } from '../lib/context.js';
import { buildFabric, buildHost, buildRouter, forEachLimit } from './fabric.js';
import {
  deleteNetns,
  ensureNetnsDir,
  isRoot,
  isRunning,
  killNetnsProcesses,
  listNetns,
  stopProcess,
} from './kernel.js';
import { AGENT_HEALTH_PORT, netnsBelongsTo, parseLabOptions, planLab, type RawLabOptions } from './plan.js';
import {
  labStatus,
  newLabState,
  nodeStateFromPlan,
  withNetns,
  withNode,
  withPhase,
  withProcess,
  type AgentStatus,
  type LabState,
  type LabStatus,
  type NodeState,
} from './state.js';
import { labDir, listLabNames, readLabState, readPods, updateLabState, writeLabState } from './store.js';
import {
  hostEtcdEndpoints,
  hostProxyEndpoints,
  startEtcdKeeper,
  startHostForwarders,
  startHostProxy,
  unixSocketPath,
  waitEtcdKeeper,
} from './etcd-link.js';
import { agentBinary, agentReady, binPath, startAgent, waitAgentReady, writeCniPath, writeNodeFiles } from './nodes.js';
import { LabDatastore, bgpConfiguration, ipPoolResources, nodeResources } from './resources.js';
import { startSubnetRouterBgp, subnetRouterPeers } from './routers.js';
import { BirdWriter } from '../bgp/index.js';
import { withRouter } from './state.js';
import { LabKubeClient, kubeNodeObject, kubeNodeStatus, startKubeApi, startLabKubelet, waitKubeApi } from './kube.js';
import { startKubeControllers } from './kube-controllers.js';
import { kernelHasSctpSockets, kernelLacksIpip } from './vm/kernel-check.js';
import { labTimeoutMs } from './vm/timeouts.js';

export interface LabEnvOptions {
  /** Environment for the lab root (TESSERA_LAB_ROOT) and the CLI config (TESSERA_CONFIG). */
  env?: NodeJS.ProcessEnv;
  onProgress?: (line: string) => void;
}

export interface LabUpOptions extends LabEnvOptions {
  /** How long to wait for every agent to report ready (default 90 s). */
  agentTimeoutMs?: number;
  /** Start agents (default true; false builds everything but the agents). */
  agents?: boolean;
  /** Make the lab the CLI's current context (default true). */
  setContext?: boolean;
  /** Start the stand-in Kubernetes API and register a Kubernetes Node per lab node (default true). */
  kubeApi?: boolean;
  /**
   * Also write Namespaces and Pods into Tessera's datastore (default true, the lab's behaviour
   * before the Kubernetes API). false leaves that to tessera-kube-controllers.
   */
  datastoreMirror?: boolean;
  /** Run tessera-kube-controllers beside the Kubernetes API (default: when it is built). */
  kubeControllers?: boolean;
  /** BOOKMARK interval of the stand-in API's watches (default 10 s; tests shorten it). */
  kubeBookmarkIntervalMs?: number;
  /**
   * Build an `--encapsulation ipip` lab even where the kernel has no ipip (default false: refused
   * up front). Only for tests of the agent's own detection and reporting; the CLI never sets it.
   */
  allowMissingIpip?: boolean;
}

async function requireRoot(action: string): Promise<void> {
  if (!(await isRoot())) throw new TesseraError('usage', `cannot ${action}: the lab needs root (network namespaces)`);
}

/** Resolves `--name` or the current context's lab. */
export function resolveLabName(name: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (name !== undefined) return name;
  const cfg = readCliConfig(env);
  const cur = cfg.currentContext !== undefined ? cfg.contexts[cfg.currentContext] : undefined;
  if (cur?.lab) return cur.lab;
  const labs = listLabNames(env);
  if (labs.length === 1) return labs[0]!;
  throw new TesseraError(
    'usage',
    labs.length === 0
      ? 'no lab: create one with `tessera lab up`'
      : `several labs exist (${labs.map((l) => `"${l}"`).join(', ')}) and the current context is not a lab: pass --name`,
  );
}

export function loadLab(name: string, env: NodeJS.ProcessEnv = process.env): LabState {
  const s = readLabState(labDir(name, env));
  if (!s)
    throw new TesseraError('not-found', `lab "${name}" does not exist (no "${join(labDir(name, env), 'state.json')}")`);
  return s;
}

export async function labUp(raw: RawLabOptions, opts: LabUpOptions = {}): Promise<LabState> {
  const env = opts.env ?? process.env;
  const say = opts.onProgress ?? (() => undefined);
  const parsed = parseLabOptions(raw);
  if (!parsed.options) throw validationError('cannot create lab', parsed.problems);
  const options = parsed.options;
  await requireRoot(`create lab "${options.name}"`);
  if (options.encapsulation.startsWith('ipip') && opts.allowMissingIpip !== true) {
    const why = await kernelLacksIpip();
    if (why !== undefined) {
      throw new TesseraError(
        'unsupported',
        `cannot create lab "${options.name}" with --encapsulation ${options.encapsulation}: this kernel has no ipip device (\`ip link add type ipip\`: "${why}"); \`tessera lab up --kernel vm --encapsulation ${options.encapsulation}\` runs it in a VM kernel that has one`,
      );
    }
  }
  const dir = labDir(options.name, env);
  const existing = readLabState(dir);
  if (existing || existsSync(dir)) {
    throw new TesseraError(
      'already-exists',
      `cannot create lab "${options.name}": it already exists${existing ? ` (phase ${existing.phase})` : ''}; remove it with \`tessera lab down --name ${options.name}\``,
    );
  }
  const plan = planLab(options);
  const taken = (await listNetns()).filter((n) =>
    [plan.fabricNetns, plan.routerNetns, ...plan.nodes.map((x) => x.netns)].includes(n),
  );
  if (taken.length > 0) {
    throw new TesseraError(
      'already-exists',
      `cannot create lab "${options.name}": network namespaces already exist: ${taken.map((t) => `"${t}"`).join(', ')}`,
    );
  }
  ensureNetnsDir();
  mkdirSync(dir, { recursive: true });
  let state = newLabState(options, dir, join(dir, 'cni-bin'), systemClock.nowIso());
  // Pods serve SCTP too where the kernel has SCTP sockets (the lab VM's kernel; not this host's).
  if (await kernelHasSctpSockets()) state.sctpSockets = true;
  const save = (next: LabState) => {
    state = next;
    writeLabState(state);
  };
  // Record every namespace first: from here on, `down` knows everything `up` may create.
  for (const ns of [
    plan.fabricNetns,
    ...(plan.routerNetns ? [plan.routerNetns] : []),
    ...plan.nodes.map((n) => n.netns),
  ]) {
    state = withNetns(state, ns);
  }
  for (const n of plan.nodes) state = withNode(state, nodeStateFromPlan(n, dir, AGENT_HEALTH_PORT));
  if (plan.routerNetns) {
    state.routers = [
      {
        name: 'router',
        netns: plan.routerNetns,
        ips: plan.subnets.flatMap((s) => (s.gateway6 ? [s.gateway4, s.gateway6] : [s.gateway4])),
        kind: 'subnet',
      },
    ];
  }
  save(state);
  try {
    const t0 = Date.now();
    say(
      `lab "${options.name}": ${options.nodes} node(s) in ${options.subnets} subnet(s), encapsulation ${options.encapsulation}, routing ${options.routing}${options.ipv6 ? ', dual-stack' : ''}`,
    );
    await buildFabric(plan);
    await buildRouter(plan);
    await forEachLimit(plan.nodes, 8, (n) => buildHost(plan, n));
    say(
      `  fabric: ${plan.subnets.map((s) => s.cidr4).join(', ')}${plan.routerNetns ? ` routed by "${plan.routerNetns}"` : ''}; hosts ${plan.nodes.map((n) => n.ip4).join(', ')}`,
    );

    const etcdDir = join(dir, 'etcd');
    state = { ...state, etcd: { endpoints: [], hostEndpoints: [], sockets: [], paths: [etcdDir] } };
    save(state);
    const keeper = startEtcdKeeper(options.name, etcdDir, options.etcdMembers, join(dir, 'logs', 'etcd.log'));
    save(withProcess(state, keeper));
    const info = await waitEtcdKeeper(keeper, etcdDir, labTimeoutMs(30_000));
    // etcd names its socket "etcd.sock:<port>"; socat splits addresses at ":", so link to it.
    const sockets = info.unixEndpoints.map((ep, m) => {
      const link = join(etcdDir, `member-${m}.sock`);
      rmSync(link, { force: true });
      symlinkSync(unixSocketPath(ep), link);
      return link;
    });
    if (sockets.length === 0) throw new TesseraError('bug', 'the lab etcd has no unix socket listener');
    const hostEndpoints = options.etcdProxy ? hostProxyEndpoints() : hostEtcdEndpoints(sockets.length);
    state = {
      ...state,
      etcd: { endpoints: info.endpoints, hostEndpoints, sockets, paths: [etcdDir, ...info.dataDirs] },
    };
    save(state);
    for (const n of state.nodes) {
      for (const fwd of startHostForwarders(n.netns, n.name, sockets, join(dir, 'logs'))) save(withProcess(state, fwd));
      if (options.etcdProxy) save(withProcess(state, startHostProxy(n.netns, n.name, sockets, dir, join(dir, 'logs'))));
    }
    say(
      `  etcd: ${options.etcdMembers} member(s) at ${info.endpoints.join(',')} (nodes use ${state.etcd!.hostEndpoints.join(',')}${options.etcdProxy ? ': an etcd grpc-proxy in each node' : ''})`,
    );

    writeCniPath(state.cniPath);
    for (const n of state.nodes) writeNodeFiles(state, n);
    const ds = new LabDatastore(info.endpoints);
    try {
      for (const r of [
        ...ipPoolResources(plan),
        ...nodeResources(plan),
        bgpConfiguration(plan),
        ...subnetRouterPeers(plan),
      ])
        await ds.put(r);
    } finally {
      await ds.close();
    }
    const bgpRouter = await startSubnetRouterBgp(state, plan);
    if (bgpRouter) {
      save(withRouter(state, bgpRouter));
      say(
        `  router: BIRD route reflector (AS ${bgpRouter.asNumber}, next hop self) in "${bgpRouter.netns}", one BGPPeer per subnet`,
      );
    }
    say(
      `  datastore: IPPool ${plan.pool4}${plan.pool6 ? ` + ${plan.pool6}` : ''} (${options.encapsulation}), ${plan.nodes.length} Node resource(s)`,
    );

    // TESSERA_LAB_KUBE_API=0 turns the default off (the VM-kernel suites' in-VM labs, where every
    // Node process is slow and the Kubernetes path is not what they test).
    if (opts.kubeApi ?? env['TESSERA_LAB_KUBE_API'] !== '0') {
      const proc = startKubeApi(dir, info.endpoints, { bookmarkIntervalMs: opts.kubeBookmarkIntervalMs });
      save(withProcess(state, proc));
      const api = await waitKubeApi(proc, dir, `tessera-${options.name}`, labTimeoutMs(30_000));
      state = { ...state, kube: { ...api, datastoreMirror: opts.datastoreMirror !== false } };
      save(state);
      const kube = new LabKubeClient(api.url);
      for (const n of state.nodes) {
        await kube.ensure('/api/v1/nodes', kubeNodeObject(state, n), `register Kubernetes Node "${n.name}"`);
        await kube.mergePatch(
          `/api/v1/nodes/${n.name}/status`,
          kubeNodeStatus(n, systemClock.nowIso()),
          `write the status of Kubernetes Node "${n.name}"`,
        );
      }
      save(withProcess(state, startLabKubelet(dir, api.url)));
      say(
        `  kubernetes: stand-in API (lab only) at ${api.url}, ${state.nodes.length} Node(s); export KUBECONFIG=${api.kubeconfig}`,
      );
      const controllers =
        opts.kubeControllers === false
          ? undefined
          : startKubeControllers(dir, options.name, info.endpoints, api.kubeconfig);
      if (controllers) {
        save(withProcess(state, controllers));
        // The controllers mirror Namespaces and Pods from the API now; the lab stops writing them
        // (both writing would flip each Pod between the lab's full copy and the controllers' slim one).
        state = { ...state, kube: { ...state.kube!, datastoreMirror: false } };
        save(state);
        say('  kube-controllers: started (namespace, serviceaccount, pod, policy, node controllers, IPAM GC)');
      }
    }

    if (opts.setContext !== false) {
      state = { ...state, context: options.name };
      save(state);
      setContext(options.name, { etcdEndpoints: info.endpoints, lab: options.name }, { makeCurrent: true, env });
    }

    if (opts.agents === false) {
      say('  agents: not started (as asked)');
    } else if (!agentBinary()) {
      say(
        `  agents: "${binPath('tessera-node')}" is not built: skipping agents (pods get addresses, but no routes or policy)`,
      );
    } else {
      for (const n of state.nodes) {
        const rec = startAgent(state, n);
        save(withNode(state, { ...n, agent: rec }));
      }
      const timeoutMs = opts.agentTimeoutMs ?? labTimeoutMs(90_000);
      await Promise.all(
        state.nodes.map(async (n) => {
          await waitAgentReady(n, () => (n.agent ? isRunning(n.agent) : false), timeoutMs, n.agent?.log);
          say(`  agent ready on ${n.name}`);
        }),
      );
    }
    state = await updateLabState(dir, (s) => withPhase(s, 'ready'));
    say(
      `lab "${options.name}" is up in ${((Date.now() - t0) / 1000).toFixed(1)} s${opts.setContext !== false ? ` (current context "${options.name}")` : ''}`,
    );
    return state;
  } catch (err) {
    try {
      await updateLabState(dir, (s) => withPhase(s, 'failed', describeError(err)));
    } catch {
      // state unwritable: down still sweeps by name
    }
    throw new TesseraError(
      isTesseraCode(err) ?? 'exec-failed',
      `cannot create lab "${options.name}" (clean up with \`tessera lab down --name ${options.name}\`)`,
      { cause: err },
    );
  }
}

function isTesseraCode(err: unknown): TesseraError['code'] | undefined {
  return err instanceof TesseraError ? err.code : undefined;
}

/** Processes in the root netns whose argv names the lab dir (a keeper whose pid never got recorded). */
function sweepProcessesByDir(dir: string): number[] {
  const pids: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return pids;
  }
  for (const e of entries) {
    const pid = Number(e);
    if (pid === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (argv.some((a) => a === dir || a.startsWith(`${dir}/`) || a.includes(`:${dir}/`))) pids.push(pid);
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

export interface LabDownResult {
  name: string;
  netns: string[];
  processes: number;
  existed: boolean;
}

export async function labDown(name: string, opts: LabEnvOptions = {}): Promise<LabDownResult> {
  const env = opts.env ?? process.env;
  const say = opts.onProgress ?? (() => undefined);
  await requireRoot(`remove lab "${name}"`);
  const dir = labDir(name, env);
  let state: LabState | undefined;
  try {
    state = readLabState(dir);
  } catch {
    state = undefined; // corrupt state: the sweeps below still find everything
  }
  if (state && state.phase !== 'deleting') {
    state = withPhase(state, 'deleting');
    try {
      writeLabState(state);
    } catch {
      // read-only or vanished: carry on
    }
  }
  const pods = readPods(dir);
  const others = listLabNames(env).filter((l) => l !== name);
  const all = await listNetns();
  const netns = [
    ...new Set([
      ...(state?.netns ?? []),
      ...pods.map((p) => p.netns),
      ...all.filter((n) => netnsBelongsTo(n, name, others)),
    ]),
  ].filter((n) => all.includes(n));
  say(`lab "${name}": removing ${netns.length} namespace(s)`);
  let processes = 0;
  // Kill what runs inside the namespaces first (agents, servers, forwarders), then root daemons.
  await forEachLimit(netns, 16, async (ns) => {
    await killNetnsProcesses(ns);
  });
  for (const p of state?.processes ?? []) {
    if (isRunning(p)) processes++;
    await stopProcess(p, 8000);
  }
  for (const pid of sweepProcessesByDir(dir)) {
    processes++;
    await stopProcess({ role: 'swept', pid }, 3000);
  }
  await forEachLimit(netns, 16, deleteNetns);
  const left = (await listNetns()).filter((n) => netns.includes(n));
  // The keeper removes etcd's temp data dirs on SIGTERM; remove them here too in case it was killed.
  for (const p of state?.etcd?.paths ?? []) rmSync(p, { recursive: true, force: true });
  const cfg = readCliConfig(env);
  for (const [ctxName, ctx] of Object.entries(cfg.contexts)) {
    if (ctx.lab === name) removeContext(ctxName, { env });
  }
  if (left.length > 0) {
    throw new TesseraError(
      'exec-failed',
      `cannot remove lab "${name}": namespaces still exist: ${left.map((n) => `"${n}"`).join(', ')}`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
  say(`lab "${name}" removed`);
  return { name, netns, processes, existed: state !== undefined || netns.length > 0 };
}

export async function agentStatuses(s: LabState): Promise<Record<string, AgentStatus>> {
  const out: Record<string, AgentStatus> = {};
  const hasBinary = agentBinary() !== undefined;
  await Promise.all(
    s.nodes.map(async (n) => {
      if (n.agentStopped) out[n.name] = 'stopped';
      else if (!n.agent) out[n.name] = hasBinary ? 'stopped' : 'missing-binary';
      else if (!isRunning(n.agent)) out[n.name] = 'stopped';
      else out[n.name] = (await agentReady(n)) ? 'ready' : 'not-ready';
    }),
  );
  return out;
}

export async function labStatusOf(name: string, opts: LabEnvOptions = {}): Promise<LabStatus> {
  const s = loadLab(name, opts.env);
  return labStatus(s, readPods(s.dir), await agentStatuses(s));
}

export function findNode(s: LabState, node: string): NodeState {
  const n = s.nodes.find((x) => x.name === node || x.netns === node);
  if (!n)
    throw new TesseraError(
      'not-found',
      `lab "${s.name}" has no node "${node}" (nodes: ${s.nodes.map((x) => x.name).join(', ')})`,
    );
  return n;
}

/**
 * Stops a node's agent and, with --routing bgp, its BIRD (SIGTERM: sessions close with a Cease and
 * the peers withdraw the node's routes at once), like a node going down. `keepBird` stops only the
 * agent: BIRD outlives agent restarts by design (src/bgp driver.ts), routes stay announced.
 */
export async function nodeStop(
  name: string,
  node: string,
  opts: LabEnvOptions & { keepBird?: boolean } = {},
): Promise<void> {
  await requireRoot(`stop node "${node}"`);
  const s = loadLab(name, opts.env);
  const n = findNode(s, node);
  if (n.agent) await stopProcess(n.agent, 5000);
  await updateLabState(s.dir, (cur) => withNode(cur, { ...findNode(cur, node), agentStopped: true }));
  opts.onProgress?.(`agent on ${n.name} stopped`);
  if (s.options.routing === 'bgp' && opts.keepBird !== true) {
    await new BirdWriter({ stateDir: n.stateDir, netns: n.netns }).stop();
    opts.onProgress?.(`BIRD on ${n.name} stopped`);
  }
}

export async function nodeStart(
  name: string,
  node: string,
  opts: LabEnvOptions & { timeoutMs?: number } = {},
): Promise<void> {
  await requireRoot(`start node "${node}"`);
  const s = loadLab(name, opts.env);
  const n = findNode(s, node);
  if (n.agent && isRunning(n.agent)) {
    opts.onProgress?.(`agent on ${n.name} is already running`);
    return;
  }
  const rec = startAgent(s, n);
  const next = { ...n, agent: rec, agentStopped: false };
  await updateLabState(s.dir, (cur) => withNode(cur, { ...findNode(cur, node), agent: rec, agentStopped: false }));
  await waitAgentReady(next, () => isRunning(rec), opts.timeoutMs ?? labTimeoutMs(60_000), rec.log);
  opts.onProgress?.(`agent on ${n.name} ready`);
}
