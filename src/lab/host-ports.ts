/**
 * Host ports in the lab: servers in a node's host netns (`lab node listen|unlisten`), probe endpoints
 * that are nodes or routers (`node/NAME`, `router/NAME`), and a NodePort-style DNAT (`lab nodeport`).
 * Listeners live in the node netns (so `lab down`'s netns sweep kills them) and are recorded in
 * `<lab>/listeners/<node>.json` for `unlisten`. The DNAT lives in the node's own `table ip tessera_lab`,
 * which is the lab's, not the agent's (the agent never touches it; the netns takes it away).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../lib/exec.js';
import { echoServerArgv } from './echo-server.js';
import { TesseraError } from '../lib/errors.js';
import { startDaemon, stopProcess } from './kernel.js';
import type { LabState, ProcessRecord } from './state.js';
import { findNode } from './lab.js';
import { findPod, waitListening } from './pods.js';

export interface HostPort {
  protocol: 'TCP' | 'UDP';
  port: number;
}

export interface HostListener extends HostPort {
  process: ProcessRecord;
}

/** `tcp:22,tcp:8080,udp:5353` → ports; a clear error naming the bad item. */
export function parseHostPorts(text: string): HostPort[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item) => {
      const m = /^(tcp|udp):(\d{1,5})$/i.exec(item);
      const port = m ? Number(m[2]) : NaN;
      if (!m || port < 1 || port > 65535)
        throw new TesseraError('usage', `port "${item}" is invalid: expected tcp:PORT or udp:PORT (1-65535)`);
      return { protocol: (m[1] as string).toUpperCase() as 'TCP' | 'UDP', port };
    });
}

const listenerFile = (s: LabState, node: string) => join(s.dir, 'listeners', `${node}.json`);

export function readListeners(s: LabState, node: string): HostListener[] {
  const f = listenerFile(s, node);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as HostListener[]) : [];
}

function writeListeners(s: LabState, node: string, list: HostListener[]): void {
  mkdirSync(join(s.dir, 'listeners'), { recursive: true });
  writeFileSync(listenerFile(s, node), JSON.stringify(list, null, 2));
}

const key = (p: HostPort) => `${p.protocol.toLowerCase()}:${p.port}`;

/** Starts an echo server per port in the node's host netns; returns once all are bound. */
export async function nodeListen(
  s: LabState,
  nodeName: string,
  ports: readonly HostPort[],
  timeoutMs = 15_000,
): Promise<HostListener[]> {
  const node = findNode(s, nodeName);
  const current = readListeners(s, nodeName);
  const have = new Set(current.map(key));
  const log = join(s.dir, 'logs', `listen-${nodeName}.log`);
  const added: HostListener[] = [];
  for (const p of ports) {
    if (have.has(key(p))) continue;
    have.add(key(p));
    added.push({
      ...p,
      process: startDaemon(`listen:${key(p)}`, echoServerArgv(p.protocol, p.port), { netns: node.netns, log }),
    });
  }
  writeListeners(s, nodeName, [...current, ...added]);
  await waitListening(node.netns, added.map(key), timeoutMs, `node "${nodeName}"`, log);
  return added;
}

/** Stops the node's listeners (all, or those on `ports`). Idempotent. */
export async function nodeUnlisten(s: LabState, nodeName: string, ports?: readonly HostPort[]): Promise<number> {
  findNode(s, nodeName);
  const current = readListeners(s, nodeName);
  const want = ports ? new Set(ports.map(key)) : undefined;
  const stop = current.filter((l) => !want || want.has(key(l)));
  for (const l of stop) await stopProcess(l.process, 1000);
  writeListeners(
    s,
    nodeName,
    current.filter((l) => !stop.includes(l)),
  );
  return stop.length;
}

/** A probe endpoint: `node/NAME` or `router/NAME` (host netns, first address), else undefined. */
export function hostEndpointRef(s: LabState, ref: string, family?: 4 | 6): { netns: string; ip: string } | undefined {
  const m = /^(node|router)\/(.+)$/.exec(ref);
  if (!m) return undefined;
  const [, kind, name] = m as unknown as [string, 'node' | 'router', string];
  const holder = kind === 'node' ? s.nodes.find((n) => n.name === name) : s.routers.find((r) => r.name === name);
  if (!holder) throw new TesseraError('not-found', `lab "${s.name}" has no ${kind} "${name}"`);
  const want = family ?? 4;
  const ip = holder.ips.map((a) => a.split('/')[0] as string).find((a) => (want === 6) === a.includes(':'));
  if (!ip) throw new TesseraError('not-found', `${kind} "${name}" has no IPv${want} address`);
  return { netns: holder.netns, ip };
}

/**
 * NodePort-style DNAT on `nodeName`: TCP and UDP to the node's port `port` go to the pod's `toPort`
 * (as kube-proxy's NodePort rules do, with masquerade when the pod is on another node).
 */
export async function nodePort(
  s: LabState,
  nodeName: string,
  port: number,
  to: string,
): Promise<{ podIp: string; podPort: number }> {
  const node = findNode(s, nodeName);
  const m = /^(.+):(\d{1,5})$/.exec(to);
  if (!m) throw new TesseraError('usage', `--to "${to}" is invalid: expected NS/POD:PORT`);
  const podPort = Number(m[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new TesseraError('usage', `--port "${port}" is invalid: expected 1-65535`);
  if (podPort < 1 || podPort > 65535)
    throw new TesseraError('usage', `port in --to "${to}" is invalid: expected 1-65535`);
  const pod = findPod(s, m[1] as string);
  const podIp = (pod.ips.find((a) => !a.includes(':')) ?? '').split('/')[0] as string;
  if (!podIp) throw new TesseraError('not-found', `pod "${m[1]}" has no IPv4 address`);
  const masq =
    pod.node !== nodeName ? `add rule ip tessera_lab post ct status dnat ip daddr ${podIp} masquerade\n` : '';
  const script =
    'add table ip tessera_lab\n' +
    'add chain ip tessera_lab pre { type nat hook prerouting priority dstnat; policy accept; }\n' +
    'add chain ip tessera_lab post { type nat hook postrouting priority srcnat; policy accept; }\n' +
    `add rule ip tessera_lab pre meta l4proto { tcp, udp } th dport ${port} dnat to ${podIp}:${podPort}\n` +
    masq;
  await run(['nft', '-f', '-'], { netns: node.netns, input: script });
  return { podIp, podPort };
}
