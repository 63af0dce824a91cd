/**
 * BGP session status: parse `birdc show protocols all` / `show status`, shape it as Calico's
 * CalicoNodeStatus `status.bgp` / `status.agent`, and print calicoctl's peer table. Pure.
 * The peer type comes from the protocol name prefix the renderer chose (Mesh_/Node_/Global_),
 * exactly as calicoctl does, so status needs no datastore.
 */
import type { PeerType } from './model.js';

export type BgpSessionState = 'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established' | 'Close';

export interface PeerStatus {
  protocol: string;
  peerAddress: string;
  family: 4 | 6;
  type: PeerType;
  /** BIRD's protocol state: `up`, `start`, `down`, ... */
  state: string;
  since: string;
  /** BIRD's info column: BGP state and the last error, e.g. `Active  Socket: Connection refused`. */
  info: string;
  bgpState: BgpSessionState | undefined;
}

export interface BirdDaemonStatus {
  version?: string;
  routerId?: string;
  lastBootTime?: string;
  lastReconfigurationTime?: string;
  up: boolean;
}

const TYPES: Record<string, PeerType> = { Mesh: 'node-to-node mesh', Node: 'node specific', Global: 'global' };
const STATES = new Set<string>(['Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established', 'Close']);

/** `10_0_0_2` → `10.0.0.2`, `fd00__1` → `fd00::1` (the renderer's addressId, reversed). */
function addressFromId(id: string): { address: string; family: 4 | 6 } {
  if (/^\d+_\d+_\d+_\d+$/.test(id)) return { address: id.replace(/_/g, '.'), family: 4 };
  return { address: id.replace(/_/g, ':'), family: 6 };
}

/** Parses `show protocols` or `show protocols all`; returns only Tessera's BGP sessions. */
export function parseBirdProtocols(text: string): PeerStatus[] {
  const out: PeerStatus[] = [];
  let cur: PeerStatus | undefined;
  for (const line of text.split('\n')) {
    const head = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (head && !line.startsWith(' ') && head[1] !== 'Name' && head[1] !== 'BIRD') {
      cur = undefined;
      const [, name, proto, , state, since, info] = head;
      const m = /^(Mesh|Node|Global)_(.+?)(?:_port_(\d+))?$/.exec(name!);
      if (proto !== 'BGP' || !m) continue;
      const { address, family } = addressFromId(m[2]!);
      const infoText = info!.trim().replace(/\s{2,}/g, ' ');
      const first = infoText.split(' ')[0] ?? '';
      cur = {
        protocol: name!,
        peerAddress: address,
        family,
        type: TYPES[m[1]!]!,
        state: state!,
        since: since!,
        info: infoText,
        bgpState: STATES.has(first) ? (first as BgpSessionState) : undefined,
      };
      out.push(cur);
      continue;
    }
    if (!cur) continue;
    const kv = /^\s+(Neighbor address|BGP state):\s+(\S+)/.exec(line);
    if (kv?.[1] === 'Neighbor address') {
      cur.peerAddress = kv[2]!;
      cur.family = kv[2]!.includes(':') ? 6 : 4;
    }
    if (kv?.[1] === 'BGP state' && STATES.has(kv[2]!)) cur.bgpState = kv[2] as BgpSessionState;
  }
  return out;
}

export function parseBirdStatus(text: string): BirdDaemonStatus {
  const get = (re: RegExp) => re.exec(text)?.[1]?.trim();
  const s: BirdDaemonStatus = { up: /Daemon is up and running/.test(text) };
  const set = (k: 'version' | 'routerId' | 'lastBootTime' | 'lastReconfigurationTime', v: string | undefined) => {
    if (v) s[k] = v;
  };
  set('version', get(/^BIRD (\d[^\s]*)$/m));
  set('routerId', get(/^Router ID is (\S+)/m));
  set('lastBootTime', get(/^Last reboot on (.+)$/m));
  set('lastReconfigurationTime', get(/^Last reconfiguration on (.+)$/m));
  return s;
}

const CALICO_TYPE: Record<PeerType, 'NodeMesh' | 'NodePeer' | 'GlobalPeer'> = {
  'node-to-node mesh': 'NodeMesh',
  'node specific': 'NodePeer',
  global: 'GlobalPeer',
};

/** `status` of a CalicoNodeStatus (Calico's field names), from BIRD's answers. */
export function calicoNodeStatusFrom(
  peers: PeerStatus[],
  daemon: BirdDaemonStatus | undefined,
  nowIso: string,
): Record<string, unknown> {
  const family = (f: 4 | 6) => peers.filter((p) => p.family === f);
  const peerList = (f: 4 | 6) =>
    family(f).map((p) => ({
      peerIP: p.peerAddress,
      type: CALICO_TYPE[p.type],
      state: p.bgpState ?? 'Idle',
      since: p.since,
    }));
  const established = (f: 4 | 6) => family(f).filter((p) => p.bgpState === 'Established').length;
  const bird = daemon
    ? {
        state: daemon.up ? 'Ready' : 'NotReady',
        ...(daemon.version ? { version: daemon.version } : {}),
        ...(daemon.routerId ? { routerID: daemon.routerId } : {}),
        ...(daemon.lastBootTime ? { lastBootTime: daemon.lastBootTime } : {}),
        ...(daemon.lastReconfigurationTime ? { lastReconfigurationTime: daemon.lastReconfigurationTime } : {}),
      }
    : { state: 'NotReady' };
  return {
    lastUpdated: nowIso,
    agent: { birdV4: bird, birdV6: bird },
    bgp: {
      numberEstablishedV4: established(4),
      numberNotEstablishedV4: family(4).length - established(4),
      numberEstablishedV6: established(6),
      numberNotEstablishedV6: family(6).length - established(6),
      peersV4: peerList(4),
      peersV6: peerList(6),
    },
  };
}

/** Rows back from a stored CalicoNodeStatus (for `tessera node status NODE`). */
export function peersFromCalicoNodeStatus(status: unknown): PeerStatus[] {
  const bgp = (status as { bgp?: Record<string, unknown> } | undefined)?.bgp ?? {};
  const back: Record<string, PeerType> = {
    NodeMesh: 'node-to-node mesh',
    NodePeer: 'node specific',
    GlobalPeer: 'global',
  };
  const rows: PeerStatus[] = [];
  for (const [field, family] of [
    ['peersV4', 4],
    ['peersV6', 6],
  ] as const) {
    for (const p of Array.isArray(bgp[field]) ? (bgp[field] as Record<string, unknown>[]) : []) {
      const state = String(p.state ?? 'Idle');
      rows.push({
        protocol: '',
        peerAddress: String(p.peerIP ?? ''),
        family,
        type: back[String(p.type)] ?? 'global',
        state: state === 'Established' ? 'up' : 'start',
        since: String(p.since ?? ''),
        info: state,
        bgpState: STATES.has(state) ? (state as BgpSessionState) : undefined,
      });
    }
  }
  return rows;
}

/** calicoctl's `node status` table (ASCII box), IPv4 then IPv6 sessions. */
export function formatPeerTable(peers: PeerStatus[]): string {
  const header = ['PEER ADDRESS', 'PEER TYPE', 'STATE', 'SINCE', 'INFO'];
  const sections: string[] = [];
  for (const f of [4, 6] as const) {
    const rows = peers.filter((p) => p.family === f).map((p) => [p.peerAddress, p.type, p.state, p.since, p.info]);
    if (f === 6 && rows.length === 0) continue;
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const rule = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
    const line = (cells: string[]) => `|${cells.map((c, i) => ` ${c.padEnd(widths[i]!)} `).join('|')}|`;
    sections.push(
      [
        `IPv${f} BGP status`,
        rows.length ? [rule, line(header), rule, ...rows.map(line), rule].join('\n') : `No IPv${f} peers found.`,
      ].join('\n'),
    );
  }
  return `${sections.join('\n\n')}\n`;
}
