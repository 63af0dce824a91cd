/**
 * The tolerant decoder: stored resources (already past the mirror's JSON and metadata check) to
 * typed, defaulted views, for the consumers that read a resource's spec at run time (the agent's
 * routing and node registration, the policy calculator's input, the BIRD renderer). Validation
 * (validateResource) rejects bad input at apply time; this never throws and never reports: a
 * field of the wrong JSON type reads as absent, so data written by another tool, an older version
 * or by hand cannot stop the dataplane.
 *
 * One reading for every consumer (they used to disagree):
 * - `str`: a non-empty string, else undefined. `""` is absent (Calico's Go types omit empty
 *   strings; a node named "" or a pool mode "" means nothing).
 * - `obj`: a JSON object, else `{}`. An array is not an object (`obj([])` is `{}`), so a list
 *   where an object belongs is as good as absent.
 * - `strs`: the string items of an array; `[]` for anything else. Non-string items are dropped.
 * - Encapsulation modes: `Always` / `CrossSubnet`, anything else is `Never`.
 * - Booleans are true only when `true` (`"true"` is not).
 * - An IPPool with no CIDR has no view (it has no addresses, no blocks and no workloads, so it
 *   cannot need a route, a tunnel address or a smaller MTU). BGP reports it on its own.
 */
import type { Resource } from './resource.js';
import type { EncapMode, NodeBGPSpec, NodeSpec, WorkloadEndpointSpec } from './types/network.js';

export type Obj = Record<string, unknown>;

export const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
export const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
export const strs = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
export const encapMode = (v: unknown): EncapMode => (v === 'Always' || v === 'CrossSubnet' ? v : 'Never');

/** An IPPool as the agent uses it, with its shared projections (family, encapsulated, enabled). */
export interface PoolView {
  name: string;
  cidr: string;
  family: 4 | 6;
  vxlanMode: EncapMode;
  ipipMode: EncapMode;
  /** vxlanMode Always or CrossSubnet. */
  vxlan: boolean;
  /** ipipMode Always or CrossSubnet. */
  ipip: boolean;
  natOutgoing: boolean;
  disabled: boolean;
}

export function decodePool(r: Resource): PoolView | undefined {
  const s = obj(r.spec);
  const cidr = str(s.cidr);
  if (!cidr) return undefined;
  const vxlanMode = encapMode(s.vxlanMode);
  const ipipMode = encapMode(s.ipipMode);
  return {
    name: r.metadata.name,
    cidr,
    family: cidr.includes(':') ? 6 : 4,
    vxlanMode,
    ipipMode,
    vxlan: vxlanMode !== 'Never',
    ipip: ipipMode !== 'Never',
    natOutgoing: s.natOutgoing === true,
    disabled: s.disabled === true,
  };
}

type NodeStrings = 'ipv4VXLANTunnelAddr' | 'vxlanTunnelMACAddr' | 'ipv6VXLANTunnelAddr' | 'vxlanTunnelMACAddrV6';
type BgpStrings = 'ipv4Address' | 'ipv6Address' | 'ipv4IPIPTunnelAddr';

/** The string fields of a Node's spec the dataplane reads; each present only when a non-empty string. */
export type NodeView = { name: string; bgp: Pick<NodeBGPSpec, BgpStrings> } & Pick<NodeSpec, NodeStrings>;

const NODE_STRINGS: readonly NodeStrings[] = [
  'ipv4VXLANTunnelAddr',
  'vxlanTunnelMACAddr',
  'ipv6VXLANTunnelAddr',
  'vxlanTunnelMACAddrV6',
];
const BGP_STRINGS: readonly BgpStrings[] = ['ipv4Address', 'ipv6Address', 'ipv4IPIPTunnelAddr'];

export function decodeNode(r: Resource): NodeView {
  const s = obj(r.spec);
  const b = obj(s.bgp);
  const bgp: NodeView['bgp'] = {};
  for (const k of BGP_STRINGS) {
    const v = str(b[k]);
    if (v) bgp[k] = v;
  }
  // Older writers put the address in `addresses: { ipv4 }`; bgp.ipv4Address wins.
  const legacy = str(obj(s.addresses).ipv4);
  if (!bgp.ipv4Address && legacy) bgp.ipv4Address = legacy;
  const out: NodeView = { name: r.metadata.name, bgp };
  for (const k of NODE_STRINGS) {
    const v = str(s[k]);
    if (v) out[k] = v;
  }
  return out;
}

export interface NamedPortView {
  name: string;
  /** As given (`TCP`, `udp`, 132); `TCP` when absent or not a string or number. */
  protocol: string | number;
  port: number;
}

/** Named ports: items with a string name and a numeric port; the others are dropped. */
export function namedPorts(v: unknown): NamedPortView[] {
  if (!Array.isArray(v)) return [];
  const out: NamedPortView[] = [];
  for (const item of v) {
    const p = obj(item);
    if (typeof p.name !== 'string' || typeof p.port !== 'number') continue;
    const protocol = typeof p.protocol === 'string' || typeof p.protocol === 'number' ? p.protocol : 'TCP';
    out.push({ name: p.name, protocol, port: p.port });
  }
  return out;
}

type WepStrings = 'node' | 'interfaceName' | 'orchestrator' | 'pod' | 'serviceAccountName';

/** A WorkloadEndpoint's spec as routing, BGP and policy read it. */
export type WorkloadView = Pick<WorkloadEndpointSpec, WepStrings> & {
  ipNetworks: string[];
  /** Present only when the spec has a `profiles` array (absent and `[]` differ for policy). */
  profiles?: string[];
  ports: NamedPortView[];
};

const WEP_STRINGS: readonly WepStrings[] = ['node', 'interfaceName', 'orchestrator', 'pod', 'serviceAccountName'];

export function decodeWorkloadEndpoint(r: Resource): WorkloadView {
  const s = obj(r.spec);
  const out: WorkloadView = { ipNetworks: strs(s.ipNetworks), ports: namedPorts(s.ports) };
  for (const k of WEP_STRINGS) {
    const v = str(s[k]);
    if (v) out[k] = v;
  }
  if (Array.isArray(s.profiles)) out.profiles = strs(s.profiles);
  return out;
}
