/**
 * Which BGP sessions a node has: the node-to-node mesh plus every BGPPeer that applies to it.
 * Pure. Precedence on a duplicate address: an explicit BGPPeer replaces the mesh session, and among
 * BGPPeers the first by name wins (Calico dedupes the same way, so one address is one session).
 */
import type { Resource } from '../api/index.js';
import { evaluateSelector, parseSelector } from '../api/selector/index.js';
import { parseIp, type Cidr, type IpFamily } from '../lib/ip.js';
import type { PeerType } from './model.js';
import {
  addressId,
  birdQuotable,
  obj,
  parseAsNumber,
  parseDurationSeconds,
  parseHostAddress,
  parsePeerIp,
  str,
  strings,
} from './values.js';

export interface NodeView {
  name: string;
  labels: Record<string, string>;
  v4?: { address: string; subnet?: Cidr };
  v6?: { address: string; subnet?: Cidr };
  asNumber: number;
  clusterId?: string;
}

export function nodeView(r: Resource, defaultAs: number): NodeView {
  const bgp = obj(obj(r.spec).bgp);
  const v: NodeView = {
    name: r.metadata.name,
    // Calico exposes the node name to selectors as `projectcalico.org/name`.
    labels: { ...(r.metadata.labels ?? {}), 'projectcalico.org/name': r.metadata.name },
    asNumber: parseAsNumber(bgp.asNumber) ?? defaultAs,
  };
  const v4 = parseHostAddress(bgp.ipv4Address, 4);
  const v6 = parseHostAddress(bgp.ipv6Address, 6);
  if (v4) v.v4 = v4;
  if (v6) v.v6 = v6;
  const cid = str(bgp.routeReflectorClusterID);
  if (cid) v.clusterId = cid;
  return v;
}

export interface PeerPlan {
  protocol: string;
  type: PeerType;
  source: string;
  family: IpFamily;
  address: string;
  port?: number;
  asNumber: number;
  localAs: number;
  /** Local address for the TCP session; undefined with `sourceAddress: None`. */
  sourceAddress?: string;
  passive: boolean;
  password?: string;
  restartTimeSec?: number;
  nextHop?: 'self' | 'keep';
  rrClient?: string;
  filters: string[];
  node?: string;
}

export interface PeerContext {
  local: NodeView;
  nodes: NodeView[];
  meshEnabled: boolean;
  meshPassword?: unknown;
  meshRestart?: unknown;
  peers: Resource[];
  filterNames: ReadonlySet<string>;
  secrets: Readonly<Record<string, string>>;
  problems: string[];
}

const cmpAddr = (a: string, b: string): number => {
  const x = parseIp(a).value;
  const y = parseIp(b).value;
  return x < y ? -1 : x > y ? 1 : 0;
};

/** Resolves a `{secretKeyRef: {name, key}}`; `null` means "asked for, but unusable" (reported). */
function resolvePassword(v: unknown, ctx: PeerContext, what: string): string | undefined | null {
  const ref = obj(obj(v).secretKeyRef);
  const name = str(ref.name);
  const key = str(ref.key);
  if (!name || !key) return undefined;
  const value = ctx.secrets[`${name}/${key}`];
  if (value === undefined) {
    ctx.problems.push(
      `${what}: password secret "${name}/${key}" not found (outside Kubernetes put it in <stateDir>/secrets/${name}/${key}); session not configured`,
    );
    return null;
  }
  if (!birdQuotable(value) || value.length > 80) {
    ctx.problems.push(
      `${what}: password secret "${name}/${key}" has a quote, backslash or control character, or is over 80 characters; session not configured`,
    );
    return null;
  }
  return value;
}

function nameFor(prefix: string, address: string, port?: number): string {
  return `${prefix}_${addressId(address)}${port ? `_port_${port}` : ''}`;
}

function selectorMatches(
  text: string | undefined,
  labels: Record<string, string>,
  ctx: PeerContext,
  what: string,
): boolean {
  if (text === undefined) return true;
  try {
    return evaluateSelector(parseSelector(text), labels);
  } catch {
    ctx.problems.push(`${what}: invalid selector "${text}"; peer skipped`);
    return false;
  }
}

export function planPeers(ctx: PeerContext): PeerPlan[] {
  const { local } = ctx;
  const byKey = new Map<string, PeerPlan>();
  const localAddr = (f: IpFamily) => (f === 4 ? local.v4 : local.v6)?.address;

  if (ctx.meshEnabled) {
    const password = resolvePassword(ctx.meshPassword, ctx, 'BGPConfiguration "default" nodeMeshPassword');
    const restart = parseDurationSeconds(ctx.meshRestart);
    if (password !== null) {
      for (const n of ctx.nodes) {
        if (n.name === local.name) continue;
        for (const f of [4, 6] as const) {
          const mine = localAddr(f);
          const theirs = (f === 4 ? n.v4 : n.v6)?.address;
          if (!mine || !theirs || mine === theirs) continue;
          const p: PeerPlan = {
            protocol: nameFor('Mesh', theirs),
            type: 'node-to-node mesh',
            source: 'mesh',
            family: f,
            address: theirs,
            asNumber: n.asNumber,
            localAs: local.asNumber,
            sourceAddress: mine,
            // One side connects, the other listens: no connection collisions, faster establishment.
            passive: cmpAddr(mine, theirs) > 0,
            filters: [],
            node: n.name,
          };
          if (password) p.password = password;
          if (restart !== undefined) p.restartTimeSec = restart;
          byKey.set(`${f}|${theirs}`, p);
        }
      }
    }
  }

  const explicit = new Map<string, PeerPlan>();
  const sorted = [...ctx.peers].sort((a, b) =>
    a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0,
  );
  for (const r of sorted) {
    const what = `BGPPeer "${r.metadata.name}"`;
    const s = obj(r.spec);
    const node = str(s.node);
    const nodeSelector = str(s.nodeSelector);
    const inScope = (n: NodeView) =>
      node !== undefined ? node === n.name : selectorMatches(nodeSelector, n.labels, ctx, what);
    const localInScope = inScope(local);
    const type: PeerType = node !== undefined || nodeSelector !== undefined ? 'node specific' : 'global';
    const prefix = type === 'global' ? 'Global' : 'Node';
    const filters = strings(s.filters);
    const missing = filters.filter((f) => !ctx.filterNames.has(f));
    if (missing.length) {
      // Filters narrow what a session carries: without them the session would carry too much.
      ctx.problems.push(
        `${what}: BGPFilter ${missing.map((m) => `"${m}"`).join(', ')} not found; session not configured`,
      );
      continue;
    }
    const password = resolvePassword(s.password, ctx, what);
    if (password === null) continue;
    const restart = parseDurationSeconds(s.maxRestartTime);
    const nextHop: PeerPlan['nextHop'] =
      s.keepOriginalNextHop === true || s.nextHopMode === 'Keep'
        ? 'keep'
        : s.nextHopMode === 'Self'
          ? 'self'
          : undefined;
    const localAsOverride = parseAsNumber(s.localASNumber);
    const targets: { family: IpFamily; address: string; port?: number; asNumber: number; node?: NodeView }[] = [];
    const peerSelector = str(s.peerSelector);
    if (peerSelector !== undefined) {
      const addTargets = (n: NodeView) => {
        for (const f of [4, 6] as const) {
          const addr = (f === 4 ? n.v4 : n.v6)?.address;
          if (addr && localAddr(f)) targets.push({ family: f, address: addr, asNumber: n.asNumber, node: n });
        }
      };
      // Forward: we are in the peer's scope, peer with every node the peerSelector picks.
      if (localInScope) {
        for (const n of ctx.nodes)
          if (n.name !== local.name && selectorMatches(peerSelector, n.labels, ctx, what)) addTargets(n);
      }
      // Reverse (as Calico): we are picked by peerSelector, so every node in scope peers with us.
      if (selectorMatches(peerSelector, local.labels, ctx, what)) {
        for (const n of ctx.nodes) if (n.name !== local.name && inScope(n)) addTargets(n);
      }
    } else if (s.peerIP !== undefined && localInScope) {
      const pa = parsePeerIp(s.peerIP);
      const as = parseAsNumber(s.asNumber);
      if (!pa) {
        ctx.problems.push(
          `${what}: peerIP "${String(s.peerIP)}" is not an IP, "IPv4:port" or "[IPv6]:port"; peer skipped`,
        );
        continue;
      }
      if (as === undefined) {
        ctx.problems.push(`${what}: asNumber "${String(s.asNumber ?? '')}" is missing or out of range; peer skipped`);
        continue;
      }
      if (!localAddr(pa.family)) {
        ctx.problems.push(
          `${what}: node "${local.name}" has no IPv${pa.family} address to peer with "${pa.address}"; peer skipped`,
        );
        continue;
      }
      const owner = ctx.nodes.find((n) => (pa.family === 4 ? n.v4 : n.v6)?.address === pa.address);
      targets.push({ ...pa, asNumber: as, ...(owner ? { node: owner } : {}) });
    } else {
      continue; // localWorkloadSelector peers are Kubernetes-workload peers: not supported here
    }
    for (const t of targets) {
      if (t.address === localAddr(t.family)) continue;
      const key = `${t.family}|${t.address}`;
      if (explicit.has(key)) continue;
      const localAs = localAsOverride ?? local.asNumber;
      const p: PeerPlan = {
        protocol: nameFor(prefix, t.address, t.port),
        type,
        source: r.metadata.name,
        family: t.family,
        address: t.address,
        asNumber: t.asNumber,
        localAs,
        passive: false,
        filters,
      };
      if (t.port) p.port = t.port;
      if (s.sourceAddress !== 'None') p.sourceAddress = localAddr(t.family)!;
      if (password) p.password = password;
      if (restart !== undefined) p.restartTimeSec = restart;
      if (nextHop) p.nextHop = nextHop;
      if (t.node) p.node = t.node.name;
      // A reflector treats every iBGP peer outside its own cluster as a client.
      if (local.clusterId && localAs === t.asNumber && t.node?.clusterId !== local.clusterId)
        p.rrClient = local.clusterId;
      // peerSelector sessions always exist on both ends (forward + reverse): the higher address listens.
      if (peerSelector !== undefined && p.sourceAddress && cmpAddr(p.sourceAddress, t.address) > 0) p.passive = true;
      explicit.set(key, p);
    }
  }
  for (const [k, p] of explicit) byKey.set(k, p);
  return [...byKey.values()].sort((a, b) => (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0));
}
