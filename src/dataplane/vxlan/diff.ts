/**
 * VXLAN VTEP state: the device spec, and the static FDB + neighbour entries per remote node
 * (`nolearning`: nothing is learned from the wire, so a spoofed packet cannot poison the table).
 * Pure: parse kernel JSON, diff against desired peers, emit batch lines.
 */
import type { IpFamily } from '../../lib/ip.js';
import type { VxlanPeer } from '../routes/model.js';

export interface VtepSpec {
  device: string;
  family: IpFamily;
  vni: number;
  port: number;
  /** Local underlay address. */
  localIp: string;
  /** Local tunnel address (assigned /32 or /128 on the device). */
  tunnelIp: string;
  mac: string;
  mtu: number;
}

export interface FdbEntry {
  mac: string;
  dst: string;
}
export interface NeighEntry {
  ip: string;
  mac: string;
}

export function parseFdb(json: string): FdbEntry[] {
  const list = JSON.parse(json || '[]') as { mac?: string; dst?: string }[];
  return list
    .filter((e) => e.mac && e.dst && e.mac !== '00:00:00:00:00:00')
    .map((e) => ({ mac: e.mac!.toLowerCase(), dst: e.dst! }));
}

export function parseNeigh(json: string): NeighEntry[] {
  const list = JSON.parse(json || '[]') as { dst?: string; lladdr?: string }[];
  return list.filter((e) => e.dst && e.lladdr).map((e) => ({ ip: e.dst!, mac: e.lladdr!.toLowerCase() }));
}

export interface VtepDiff {
  bridgeLines: string[];
  ipLines: string[];
}

export function diffVtepPeers(
  device: string,
  peers: readonly VxlanPeer[],
  fdb: readonly FdbEntry[],
  neigh: readonly NeighEntry[],
): VtepDiff {
  const bridgeLines: string[] = [];
  const ipLines: string[] = [];
  const wantFdb = new Map(peers.map((p) => [p.mac.toLowerCase(), p.nodeIp]));
  const wantNeigh = new Map(peers.map((p) => [p.tunnelIp, p.mac.toLowerCase()]));
  for (const e of fdb) {
    if (wantFdb.get(e.mac) !== e.dst) bridgeLines.push(`fdb del ${e.mac} dev ${device} dst ${e.dst}`);
  }
  const haveFdb = new Set(fdb.map((e) => `${e.mac}|${e.dst}`));
  for (const [mac, dst] of wantFdb) {
    if (!haveFdb.has(`${mac}|${dst}`)) bridgeLines.push(`fdb replace ${mac} dev ${device} dst ${dst} self permanent`);
  }
  const haveNeigh = new Map(neigh.map((n) => [n.ip, n.mac]));
  for (const n of neigh) {
    if (!wantNeigh.has(n.ip)) ipLines.push(`neigh del ${n.ip} dev ${device}`);
  }
  for (const [ip, mac] of wantNeigh) {
    if (haveNeigh.get(ip) !== mac) ipLines.push(`neigh replace ${ip} lladdr ${mac} dev ${device} nud permanent`);
  }
  return { bridgeLines, ipLines };
}

/** Deterministic locally-administered MAC for a node's VTEP (stable across restarts). */
export function vtepMacFor(nodeName: string, family: IpFamily, hash: (s: string) => string): string {
  const h = hash(`${family}|${nodeName}`);
  const bytes = [0x66, ...[0, 2, 4, 6, 8].map((i) => parseInt(h.slice(i, i + 2), 16))];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}
