/**
 * Structured form of Tessera's nftables table. The renderer builds it, `nftScript`/`diffNft` print it,
 * the interpreter (tests) executes it, and drift detection compares it with what the kernel lists.
 */
import type { ElementChanges, PortRange } from '../../policy/index.js';

export const TABLE = 'tessera';
export const FAMILY = 'inet';
export const IFACE_PREFIX = 'tsr';
/** Mark bits used to carry verdicts out of shared policy chains (nft has no multi-level return). */
export const MARK_ACCEPT = 0x10000;
export const MARK_PASS = 0x20000;
/**
 * Set on a packet an untracked (raw) or preDNAT (mangle) host-endpoint policy allowed: the filter
 * hooks accept it without running normal host-endpoint policy (Felix's accept bit across tables).
 */
export const MARK_PRE_ACCEPT = 0x40000;

export type Fam = 4 | 6;

export type Match =
  | { m: 'nfproto'; fam: Fam }
  | { m: 'l4proto'; neg: boolean; proto: number }
  | { m: 'addrSet'; fam: Fam; field: 'saddr' | 'daddr'; neg: boolean; set: string }
  /** `iifname . ip saddr` in a set of (interface, address) pairs. */
  | { m: 'ifaddrSet'; fam: Fam; neg: boolean; set: string }
  | { m: 'addrList'; fam: Fam; field: 'saddr' | 'daddr'; neg: boolean; addrs: readonly string[] }
  | { m: 'port'; field: 'sport' | 'dport'; neg: boolean; ranges: readonly PortRange[] }
  | { m: 'namedPort'; fam: Fam; side: 'src' | 'dst'; neg: boolean; set: string }
  | { m: 'icmp'; fam: Fam; neg: boolean; type: number; code?: number }
  | { m: 'mark'; mask: number; value: number; neg: boolean }
  | { m: 'ifname'; dir: 'iif' | 'oif'; neg: boolean; name: string }
  | { m: 'ct'; states: readonly ('established' | 'related' | 'invalid')[] }
  | { m: 'nd' };

export type Stmt =
  { s: 'counter' } | { s: 'log'; prefix: string } | { s: 'mark'; and: number; or: number } | { s: 'notrack' };

export type Verdict =
  | { v: 'accept' | 'drop' | 'return' }
  | { v: 'jump' | 'goto'; chain: string }
  | { v: 'vmap'; dir: 'iif' | 'oif'; map: string }
  /** `meta l4proto . th dport vmap @map`: an interval map keyed by (protocol, destination port). */
  | { v: 'portVmap'; map: string };

export interface NftRule {
  matches: readonly Match[];
  stmts: readonly Stmt[];
  verdict?: Verdict;
  /** Human label appended to the rule comment after the hash. */
  label?: string;
}

export type SetType =
  | 'ipv4_addr'
  | 'ipv6_addr'
  | 'ifname . ipv4_addr'
  | 'ifname . ipv6_addr'
  | 'ipv4_addr . inet_proto . inet_service'
  | 'ipv6_addr . inet_proto . inet_service';

export interface NftSet {
  name: string;
  type: SetType;
  interval: boolean;
  /** Canonical element texts, sorted. */
  elements: readonly string[];
  /**
   * How `elements` was derived from the elements of this set in the state it patches (patchNft,
   * from the calculator's ResolvedDelta); diffNft takes them when `from` is what it diffs against.
   */
  changes?: ElementChanges;
}

export interface NftVmap {
  name: string;
  /** Absent: keyed by interface name. `l4proto . dport`: keys like `6 . 80` (or `6 . 80-90` when `interval`). */
  key?: 'l4proto . dport';
  interval?: boolean;
  /** key → verdict text, e.g. `goto wo-tsr1234` or `jump pi-<hash>`. */
  elements: ReadonlyMap<string, string>;
}

export interface NftHook {
  hook: 'forward' | 'input' | 'output' | 'prerouting';
  priority: number;
}

export interface NftChain {
  name: string;
  hook?: NftHook;
  rules: readonly NftRule[];
}

export interface NftState {
  sets: ReadonlyMap<string, NftSet>;
  maps: ReadonlyMap<string, NftVmap>;
  chains: ReadonlyMap<string, NftChain>;
}

export const EMPTY_STATE: NftState = { sets: new Map(), maps: new Map(), chains: new Map() };
