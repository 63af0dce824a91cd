/**
 * What a lab owns, as recorded in `state.json` (and one file per pod). Pure types and transitions.
 *
 * Invariant (what makes `lab down` safe after any failure): a resource is recorded BEFORE it is
 * created, so the record is always a superset of what exists. Cleanup of a recorded but never
 * created resource is a no-op (idempotent deletes).
 */
import type { LabOptions, NodePlan, PodPort } from './plan.js';

export type LabPhase = 'creating' | 'ready' | 'failed' | 'deleting';

/** A daemon the lab started. `startTicks` (field 22 of /proc/PID/stat) guards against PID reuse. */
export interface ProcessRecord {
  role: string;
  pid: number;
  startTicks?: number;
  netns?: string;
  log?: string;
}

export interface NodeState {
  name: string;
  netns: string;
  ips: string[];
  subnet: number;
  stateDir: string;
  cniConfig: string;
  healthPort: number;
  agent?: ProcessRecord;
  /** Agent stopped on purpose by `lab node stop`. */
  agentStopped?: boolean;
}

export interface EtcdState {
  /** Endpoints reachable from the root netns (the CLI, the context). */
  endpoints: string[];
  /** Endpoints reachable from inside every host netns (agents, CNI). */
  hostEndpoints: string[];
  /** Unix sockets the host-netns bridges connect to. */
  sockets: string[];
  /** Anything else to delete on teardown (data dirs). */
  paths: string[];
}

/**
 * A router namespace on the fabric. `subnet`: the lab's own inter-subnet router (`<lab>-router`,
 * made by `lab up` when K > 1). `external`: a top-of-rack stand-in from `lab router add`, running
 * BIRD (files under `stateDir`), with one leg `eth0` in `subnet` (fabric side `fabricIf`).
 */
export interface RouterState {
  name: string;
  netns: string;
  ips: string[];
  kind?: 'subnet' | 'external';
  asNumber?: number;
  subnet?: number;
  stateDir?: string;
  fabricIf?: string;
  /** BIRD runs in the router (external routers always; the subnet router with --routing bgp). */
  bgp?: boolean;
}

/** The lab's stand-in Kubernetes API (kubeapi/), when `lab up` started one. */
export interface KubeApiState {
  /** http://127.0.0.1:PORT in the root netns (kubectl, kube-controllers). */
  url: string;
  /** The same API on a unix socket (a file: reachable from every netns). */
  socketPath: string;
  kubeconfig: string;
  /**
   * true (default): the lab also writes Namespaces and Pods into Tessera's datastore, as it did
   * before the Kubernetes API existed. false: tessera-kube-controllers carries them over.
   */
  datastoreMirror: boolean;
}

export interface LabState {
  version: 1;
  name: string;
  createdAt: string;
  phase: LabPhase;
  options: LabOptions;
  dir: string;
  /** Every netns the lab created or is about to create. */
  netns: string[];
  processes: ProcessRecord[];
  etcd?: EtcdState;
  nodes: NodeState[];
  routers: RouterState[];
  cniPath: string;
  /** Context name set in the CLI config (removed on teardown). */
  context?: string;
  error?: string;
  kube?: KubeApiState;
  /** The kernel has SCTP sockets: pods serve SCTP/80 and SCTP/81 besides TCP and UDP by default. */
  sctpSockets?: boolean;
}

export interface PodState {
  namespace: string;
  name: string;
  node: string;
  netns: string;
  containerId: string;
  ips: string[];
  labels: Record<string, string>;
  serviceAccount: string;
  ports: PodPort[];
  servers: ProcessRecord[];
  phase: 'creating' | 'ready' | 'deleting';
  /** uid of the pod's Kubernetes Pod, when it was created through the lab's API. */
  kubeUid?: string;
}

export function newLabState(options: LabOptions, dir: string, cniPath: string, nowIso: string): LabState {
  return {
    version: 1,
    name: options.name,
    createdAt: nowIso,
    phase: 'creating',
    options,
    dir,
    netns: [],
    processes: [],
    nodes: [],
    routers: [],
    cniPath,
  };
}

const ALLOWED: Record<LabPhase, readonly LabPhase[]> = {
  creating: ['ready', 'failed', 'deleting'],
  ready: ['deleting', 'failed'],
  failed: ['deleting'],
  deleting: ['deleting'],
};

export function canTransition(from: LabPhase, to: LabPhase): boolean {
  return ALLOWED[from].includes(to);
}

export function withPhase(s: LabState, to: LabPhase, error?: string): LabState {
  if (!canTransition(s.phase, to)) throw new Error(`lab "${s.name}": cannot go from phase "${s.phase}" to "${to}"`);
  const next: LabState = { ...s, phase: to };
  if (error !== undefined) next.error = error;
  return next;
}

export function withNetns(s: LabState, netns: string): LabState {
  return s.netns.includes(netns) ? s : { ...s, netns: [...s.netns, netns] };
}

export function withProcess(s: LabState, p: ProcessRecord): LabState {
  return { ...s, processes: [...s.processes.filter((q) => q.role !== p.role), p] };
}

export function withNode(s: LabState, n: NodeState): LabState {
  const nodes = s.nodes.filter((m) => m.name !== n.name);
  nodes.push(n);
  nodes.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
  return { ...s, nodes };
}

export function withRouter(s: LabState, r: RouterState): LabState {
  return { ...s, routers: [...s.routers.filter((x) => x.name !== r.name), r] };
}

export function withoutRouter(s: LabState, name: string): LabState {
  const r = s.routers.find((x) => x.name === name);
  return {
    ...s,
    routers: s.routers.filter((x) => x.name !== name),
    netns: r ? s.netns.filter((n) => n !== r.netns) : s.netns,
  };
}

export function nodeStateFromPlan(n: NodePlan, labDir: string, healthPort: number): NodeState {
  const stateDir = `${labDir}/nodes/${n.name}`;
  return {
    name: n.name,
    netns: n.netns,
    ips: n.ip6 ? [n.ip4, n.ip6] : [n.ip4],
    subnet: n.subnet,
    stateDir,
    cniConfig: `${stateDir}/cni/10-tessera.conf`,
    healthPort,
  };
}

/** The `lab status -o json` document. */
export interface LabStatus {
  name: string;
  phase: LabPhase;
  options: LabOptions;
  etcdEndpoints: string[];
  hostEtcdEndpoints: string[];
  nodes: {
    name: string;
    netns: string;
    ips: string[];
    cniConfig: string;
    cniPath: string;
    stateDir: string;
    agent: AgentStatus;
  }[];
  routers: {
    name: string;
    netns: string;
    ips: string[];
    kind: 'subnet' | 'external';
    asNumber?: number;
    subnet?: number;
    bgp: boolean;
  }[];
  pods: {
    name: string;
    namespace: string;
    node: string;
    netns: string;
    ips: string[];
    labels: Record<string, string>;
  }[];
  /** The stand-in Kubernetes API's kubeconfig (absent when the lab runs without one). */
  kubeconfig?: string;
  kubeApi?: { url: string; socketPath: string; datastoreMirror: boolean };
}

export type AgentStatus = 'ready' | 'not-ready' | 'stopped' | 'missing-binary';

export function labStatus(
  s: LabState,
  pods: readonly PodState[],
  agents: Readonly<Record<string, AgentStatus>>,
): LabStatus {
  return {
    name: s.name,
    phase: s.phase,
    options: s.options,
    ...(s.kube
      ? {
          kubeconfig: s.kube.kubeconfig,
          kubeApi: { url: s.kube.url, socketPath: s.kube.socketPath, datastoreMirror: s.kube.datastoreMirror },
        }
      : {}),
    etcdEndpoints: s.etcd?.endpoints ?? [],
    hostEtcdEndpoints: s.etcd?.hostEndpoints ?? [],
    nodes: s.nodes.map((n) => ({
      name: n.name,
      netns: n.netns,
      ips: n.ips,
      cniConfig: n.cniConfig,
      cniPath: s.cniPath,
      stateDir: n.stateDir,
      agent: agents[n.name] ?? 'not-ready',
    })),
    routers: s.routers.map((r) => ({
      name: r.name,
      netns: r.netns,
      ips: r.ips,
      kind: r.kind ?? 'subnet',
      ...(r.asNumber !== undefined ? { asNumber: r.asNumber } : {}),
      ...(r.subnet !== undefined ? { subnet: r.subnet } : {}),
      bgp: r.bgp === true,
    })),
    pods: [...pods]
      .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`))
      .map((p) => ({
        name: p.name,
        namespace: p.namespace,
        node: p.node,
        netns: p.netns,
        ips: p.ips,
        labels: p.labels,
      })),
  };
}
