/**
 * The lab's address and naming plan. Pure: the same options always give the same plan, so `lab up`,
 * `lab status` and `lab down` agree on every name without sharing memory.
 *
 * Layout for a lab "L" with K subnets and N nodes:
 *   netns "L-fabric": one bridge `br<k>` per subnet (the "switches"); bridge-nf is disabled there.
 *   netns "L-router" (only when K > 1): one leg `s<k>` per subnet with the gateway address, forwarding on.
 *   netns "L-node-<i>": `eth0` (peer `h<i>` on the fabric bridge of subnet (i-1) mod K).
 * Subnet k is 10.240.k.0/24 (fd00:240:0:k::/64 with --ipv6); its gateway is .1 (on the router when
 * K > 1, on the bridge itself when K = 1), host j of that subnet is .(10 + j).
 */
import type { Problem } from '../lib/errors.js';
import { canonicalIp } from '../lib/ip.js';

const v6 = (text: string): string => canonicalIp(text) ?? text;

export type Encapsulation = 'none' | 'vxlan' | 'vxlan-crosssubnet' | 'ipip' | 'ipip-crosssubnet';
export type RoutingMode = 'agent' | 'bgp';
export const ENCAPSULATIONS: readonly Encapsulation[] = [
  'none',
  'vxlan',
  'vxlan-crosssubnet',
  'ipip',
  'ipip-crosssubnet',
];
export const ROUTING_MODES: readonly RoutingMode[] = ['agent', 'bgp'];

export interface LabOptions {
  name: string;
  nodes: number;
  subnets: number;
  encapsulation: Encapsulation;
  routing: RoutingMode;
  ipv6: boolean;
  etcdMembers: 1 | 3;
  /** Agents and CNI reach etcd through an `etcd grpc-proxy` in their node netns. */
  etcdProxy?: boolean;
}

export const DEFAULT_LAB_NAME = 'lab';
export const MAX_NODES = 100;
export const MAX_SUBNETS = 16;
/** Port the agent's health server listens on inside each host netns (Calico's felix port). */
export const AGENT_HEALTH_PORT = 9099;
/** Port of the first etcd member as seen from inside a host netns (member m: +10*m). */
export const HOST_ETCD_BASE_PORT = 2379;
/** Port of the node's etcd grpc-proxy inside each host netns (`lab up --etcd-proxy`). */
export const HOST_ETCD_PROXY_PORT = 23790;

export const LAB_NAME_RE = /^[a-z][a-z0-9-]{0,22}[a-z0-9]$|^[a-z]$/;

export function checkLabName(name: string): string | undefined {
  if (!LAB_NAME_RE.test(name)) {
    return `lab name "${name}" is invalid: use 1-24 lower-case letters, digits and "-", starting with a letter, not ending with "-"`;
  }
  return undefined;
}

/** Raw option values as they come from the CLI (strings) or a test (already typed). */
export interface RawLabOptions {
  name?: string | undefined;
  nodes?: string | number | undefined;
  subnets?: string | number | undefined;
  encapsulation?: string | undefined;
  routing?: string | undefined;
  ipv6?: boolean | undefined;
  etcdMembers?: string | number | undefined;
  etcdProxy?: boolean | undefined;
}

function intOf(v: string | number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v === 'number') return v;
  return /^-?\d+$/.test(v.trim()) ? Number(v.trim()) : Number.NaN;
}

/** Validates and defaults lab options; problems name the flag and quote the bad value. */
export function parseLabOptions(raw: RawLabOptions): { options?: LabOptions; problems: Problem[] } {
  const problems: Problem[] = [];
  const name = raw.name ?? DEFAULT_LAB_NAME;
  const nameErr = checkLabName(name);
  if (nameErr) problems.push({ path: '--name', message: nameErr });
  const nodes = intOf(raw.nodes, 3);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > MAX_NODES) {
    problems.push({
      path: '--nodes',
      message: `"${String(raw.nodes)}" is invalid: expected an integer from 1 to ${MAX_NODES}`,
    });
  }
  const subnets = intOf(raw.subnets, 1);
  if (!Number.isInteger(subnets) || subnets < 1 || subnets > MAX_SUBNETS) {
    problems.push({
      path: '--subnets',
      message: `"${String(raw.subnets)}" is invalid: expected an integer from 1 to ${MAX_SUBNETS}`,
    });
  } else if (Number.isInteger(nodes) && nodes >= 1 && subnets > nodes) {
    problems.push({ path: '--subnets', message: `"${subnets}" is more than the number of nodes (${nodes})` });
  }
  const encapsulation = (raw.encapsulation ?? 'vxlan-crosssubnet') as Encapsulation;
  if (!ENCAPSULATIONS.includes(encapsulation)) {
    problems.push({
      path: '--encapsulation',
      message: `unknown encapsulation "${raw.encapsulation}": expected one of ${ENCAPSULATIONS.join(', ')}`,
    });
  }
  const routing = (raw.routing ?? 'agent') as RoutingMode;
  if (!ROUTING_MODES.includes(routing)) {
    problems.push({
      path: '--routing',
      message: `unknown routing mode "${raw.routing}": expected one of ${ROUTING_MODES.join(', ')}`,
    });
  }
  const etcdMembers = intOf(raw.etcdMembers, 1);
  if (etcdMembers !== 1 && etcdMembers !== 3) {
    problems.push({ path: '--etcd-members', message: `"${String(raw.etcdMembers)}" is invalid: expected 1 or 3` });
  }
  if (problems.length > 0) return { problems };
  return {
    options: {
      name,
      nodes,
      subnets,
      encapsulation,
      routing,
      ipv6: raw.ipv6 === true,
      etcdMembers: etcdMembers as 1 | 3,
      ...(raw.etcdProxy === true ? { etcdProxy: true } : {}),
    },
    problems,
  };
}

export interface SubnetPlan {
  index: number;
  cidr4: string;
  gateway4: string;
  cidr6?: string;
  gateway6?: string;
  /** Bridge in the fabric netns. */
  bridge: string;
  /** Router's leg in this subnet (router netns side) and its peer on the bridge (fabric side). */
  routerIf: string;
  routerPeerIf: string;
}

export interface NodePlan {
  /** Node name as the datastore and the CLI know it. */
  name: string;
  /** 1-based. */
  index: number;
  netns: string;
  subnet: number;
  ip4: string;
  /** Address with prefix length, as configured on eth0. */
  cidr4: string;
  ip6?: string;
  cidr6?: string;
  gateway4: string;
  gateway6?: string;
  /** Host-side interface name inside the node netns. */
  ifname: string;
  /** Peer interface name in the fabric netns. */
  fabricIf: string;
}

export interface LabPlan {
  options: LabOptions;
  fabricNetns: string;
  routerNetns?: string;
  subnets: SubnetPlan[];
  nodes: NodePlan[];
  pool4: string;
  pool6?: string;
}

export const POOL4 = '10.244.0.0/16';
export const POOL6 = 'fd00:10:244::/56';

export function nodeName(index: number): string {
  return `node-${index}`;
}

export function planLab(options: LabOptions): LabPlan {
  const subnets: SubnetPlan[] = [];
  for (let k = 0; k < options.subnets; k++) {
    const s: SubnetPlan = {
      index: k,
      cidr4: `10.240.${k}.0/24`,
      gateway4: `10.240.${k}.1`,
      bridge: `br${k}`,
      routerIf: `s${k}`,
      routerPeerIf: `r${k}`,
    };
    if (options.ipv6) {
      s.cidr6 = `${v6(`fd00:240:0:${k.toString(16)}::`)}/64`;
      s.gateway6 = v6(`fd00:240:0:${k.toString(16)}::1`);
    }
    subnets.push(s);
  }
  const nodes: NodePlan[] = [];
  for (let i = 1; i <= options.nodes; i++) {
    const k = (i - 1) % options.subnets;
    const j = Math.floor((i - 1) / options.subnets);
    const sub = subnets[k]!;
    const host = 10 + j;
    const n: NodePlan = {
      name: nodeName(i),
      index: i,
      netns: `${options.name}-node-${i}`,
      subnet: k,
      ip4: `10.240.${k}.${host}`,
      cidr4: `10.240.${k}.${host}/24`,
      gateway4: sub.gateway4,
      ifname: 'eth0',
      fabricIf: `h${i}`,
    };
    if (options.ipv6) {
      n.ip6 = v6(`fd00:240:0:${k.toString(16)}::${host.toString(16)}`);
      n.cidr6 = `${n.ip6}/64`;
      n.gateway6 = sub.gateway6!;
    }
    nodes.push(n);
  }
  const plan: LabPlan = { options, fabricNetns: `${options.name}-fabric`, subnets, nodes, pool4: POOL4 };
  if (options.subnets > 1) plan.routerNetns = `${options.name}-router`;
  if (options.ipv6) plan.pool6 = POOL6;
  return plan;
}

/** Pool modes for an encapsulation choice (Calico's IPPool fields). */
export function poolModes(enc: Encapsulation): {
  vxlanMode: 'Always' | 'CrossSubnet' | 'Never';
  ipipMode: 'Always' | 'CrossSubnet' | 'Never';
} {
  switch (enc) {
    case 'none':
      return { vxlanMode: 'Never', ipipMode: 'Never' };
    case 'vxlan':
      return { vxlanMode: 'Always', ipipMode: 'Never' };
    case 'vxlan-crosssubnet':
      return { vxlanMode: 'CrossSubnet', ipipMode: 'Never' };
    case 'ipip':
      return { vxlanMode: 'Never', ipipMode: 'Always' };
    case 'ipip-crosssubnet':
      return { vxlanMode: 'Never', ipipMode: 'CrossSubnet' };
  }
}

/** Pod MTU under an encapsulation on a 1500-byte fabric. */
export function podMtu(enc: Encapsulation, ipv6: boolean): number {
  if (enc === 'vxlan' || enc === 'vxlan-crosssubnet') return ipv6 ? 1430 : 1450;
  if (enc === 'ipip' || enc === 'ipip-crosssubnet') return 1480;
  return 1500;
}

/** FNV-1a, 32 bit, as 8 hex digits: short stable names without node:crypto. */
export function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

export const MAX_NETNS_NAME = 60;

/** `<lab>-pod-<ns>-<name>`, or `<lab>-pod-<hash>` when that would be too long. */
export function podNetnsName(lab: string, namespace: string, name: string): string {
  const full = `${lab}-pod-${namespace}-${name}`;
  if (full.length <= MAX_NETNS_NAME) return full;
  return `${lab}-pod-${shortHash(`${namespace}/${name}`)}${shortHash(`${name}/${namespace}`)}`;
}

/**
 * True when a netns name belongs to lab `lab` and not to another lab whose name merely starts
 * with `lab-` (labs "a" and "a-b" must not sweep each other).
 */
export function netnsBelongsTo(netns: string, lab: string, otherLabs: readonly string[]): boolean {
  if (!netns.startsWith(`${lab}-`)) return false;
  return !otherLabs.some((o) => o !== lab && o.startsWith(`${lab}-`) && netns.startsWith(`${o}-`));
}

/** `NS/NAME` -> parts, with Kubernetes DNS-label rules on both. */
export function parsePodRef(ref: string): { namespace: string; name: string } | { error: string } {
  const m = /^([^/]+)\/([^/]+)$/.exec(ref);
  const dns = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
  if (!m) return { error: `pod "${ref}" is invalid: expected NAMESPACE/NAME` };
  if (!dns.test(m[1]!)) return { error: `pod "${ref}" is invalid: namespace "${m[1]}" is not a DNS label` };
  if (!dns.test(m[2]!)) return { error: `pod "${ref}" is invalid: name "${m[2]}" is not a DNS label` };
  return { namespace: m[1]!, name: m[2]! };
}

export type PortProtocol = 'TCP' | 'UDP' | 'SCTP';
export interface PodPort {
  name: string;
  protocol: PortProtocol;
  port: number;
}

export const DEFAULT_POD_PORTS: readonly PodPort[] = [
  { name: 'serve-80-tcp', protocol: 'TCP', port: 80 },
  { name: 'serve-80-udp', protocol: 'UDP', port: 80 },
  { name: 'serve-81-tcp', protocol: 'TCP', port: 81 },
  { name: 'serve-81-udp', protocol: 'UDP', port: 81 },
];

/** Added to the defaults in a kernel with SCTP sockets (the lab VM's; recorded at `lab up`). */
export const SCTP_POD_PORTS: readonly PodPort[] = [
  { name: 'serve-80-sctp', protocol: 'SCTP', port: 80 },
  { name: 'serve-81-sctp', protocol: 'SCTP', port: 81 },
];

/** `NAME:PROTO:PORT,...` -> ports. */
export function parsePorts(text: string): { ports?: PodPort[]; error?: string } {
  const ports: PodPort[] = [];
  for (const item of text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    const m = /^([a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?):(TCP|UDP|SCTP|tcp|udp|sctp):(\d{1,5})$/.exec(item);
    const port = m ? Number(m[4]) : 0;
    if (!m || port < 1 || port > 65535) {
      return { error: `port "${item}" is invalid: expected NAME:TCP|UDP|SCTP:PORT (name 1-15 chars, port 1-65535)` };
    }
    const protocol = m[3]!.toUpperCase() as PortProtocol;
    if (ports.some((p) => p.name === m[1])) return { error: `port name "${m[1]}" is used twice` };
    if (ports.some((p) => p.port === port && p.protocol === protocol))
      return { error: `port ${protocol}/${port} is listed twice` };
    ports.push({ name: m[1]!, protocol, port });
  }
  if (ports.length === 0) return { error: `no ports in "${text}"` };
  return { ports };
}

/** `k=v,k2=v2` -> labels. */
export function parseLabels(text: string): { labels?: Record<string, string>; error?: string } {
  const labels: Record<string, string> = {};
  for (const item of text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')) {
    const eq = item.indexOf('=');
    if (eq <= 0) return { error: `label "${item}" is invalid: expected KEY=VALUE` };
    const key = item.slice(0, eq);
    const value = item.slice(eq + 1);
    if (!/^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(key)) {
      return { error: `label key "${key}" is invalid` };
    }
    if (value !== '' && !/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(value)) {
      return { error: `label value "${value}" for key "${key}" is invalid` };
    }
    labels[key] = value;
  }
  return { labels };
}

/** Chooses the node with the fewest pods (ties: lowest index): round-robin that survives deletes. */
export function pickNode(nodes: readonly string[], podsPerNode: Readonly<Record<string, number>>): string | undefined {
  let best: string | undefined;
  let bestCount = Infinity;
  for (const n of nodes) {
    const c = podsPerNode[n] ?? 0;
    if (c < bestCount) {
      best = n;
      bestCount = c;
    }
  }
  return best;
}
