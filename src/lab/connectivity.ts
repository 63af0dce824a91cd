/** `lab probe` and `lab matrix` over the lab's pods. */
import { TesseraError } from '../lib/errors.js';
import { tryParseIp } from '../lib/ip.js';
import { forEachLimit } from './fabric.js';
import { emptyMatrix, type MatrixResult } from './matrix.js';
import type { PortProtocol } from './plan.js';
import { probeFrom, type ProbeResult } from './probe.js';
import type { LabState, PodState } from './state.js';
import { findPod } from './pods.js';
import { readPods } from './store.js';
import { hostEndpointRef } from './host-ports.js';

export interface ProbeOptions {
  port: number;
  protocol?: PortProtocol | undefined;
  timeoutMs?: number | undefined;
  /** Address family to use for pod targets (default: IPv4 when the pod has one). */
  family?: 4 | 6 | undefined;
}

export interface PodProbeResult extends ProbeResult {
  from: string;
  to: string;
  port: number;
  protocol: PortProtocol;
}

export const podRef = (p: PodState): string => `${p.namespace}/${p.name}`;

export function podAddress(p: PodState, family?: 4 | 6): string {
  const want = family ?? (p.ips.some((ip) => !ip.includes(':')) ? 4 : 6);
  const ip = p.ips.find((a) => (want === 6) === a.includes(':'));
  if (!ip)
    throw new TesseraError(
      'not-found',
      `pod "${podRef(p)}" has no IPv${want} address (has: ${p.ips.join(', ') || 'none'})`,
    );
  return ip;
}

function checkSpec(s: LabState, o: ProbeOptions): { port: number; protocol: PortProtocol; timeoutMs: number } {
  const protocol = o.protocol ?? 'TCP';
  if (protocol !== 'TCP' && protocol !== 'UDP' && protocol !== 'SCTP')
    throw new TesseraError('usage', `protocol "${String(protocol)}" is invalid: expected TCP, UDP or SCTP`);
  if (protocol === 'SCTP' && s.sctpSockets !== true)
    throw new TesseraError(
      'unsupported',
      `lab "${s.name}" cannot probe SCTP: this kernel has no SCTP sockets; \`tessera lab up --kernel vm\` runs a lab in a kernel that has them`,
    );
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535)
    throw new TesseraError('usage', `port "${o.port}" is invalid: expected 1-65535`);
  const timeoutMs = o.timeoutMs ?? 1000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1)
    throw new TesseraError('usage', `timeout "${timeoutMs}" ms is invalid`);
  return { port: o.port, protocol, timeoutMs };
}

/** `from` is a pod (NS/NAME), `node/NAME` or `router/NAME`; `to` one of those or an IP address. */
export async function probePods(s: LabState, from: string, to: string, o: ProbeOptions): Promise<PodProbeResult> {
  const spec = checkSpec(s, o);
  const srcNetns = hostEndpointRef(s, from, o.family)?.netns ?? findPod(s, from).netns;
  const ip = tryParseIp(to) ? to : (hostEndpointRef(s, to, o.family)?.ip ?? podAddress(findPod(s, to), o.family));
  const [r] = await probeFrom(srcNetns, [{ key: to, ip }], spec);
  return { ...r!, from, to, port: spec.port, protocol: spec.protocol };
}

/**
 * Every ready pod to every other. `pods` restricts the pods; `hosts` adds `node/NAME` and
 * `router/NAME` endpoints (their host netns and first address) as rows and columns.
 */
export async function matrix(
  s: LabState,
  o: ProbeOptions & { pods?: string[]; hosts?: string[] },
): Promise<MatrixResult> {
  const spec = checkSpec(s, o);
  let pods = readPods(s.dir).filter((p) => p.phase === 'ready');
  if (o.pods) {
    const want = new Set(o.pods);
    pods = pods.filter((p) => want.has(podRef(p)));
  }
  const ends = [
    ...pods.map((p) => ({ key: podRef(p), netns: p.netns, ip: podAddress(p, o.family) })),
    ...(o.hosts ?? []).map((ref) => {
      const h = hostEndpointRef(s, ref, o.family);
      if (!h) throw new TesseraError('usage', `"${ref}" is not node/NAME or router/NAME`);
      return { key: ref, ...h };
    }),
  ];
  const m = emptyMatrix(
    ends.map((e) => e.key),
    spec.port,
    spec.protocol,
  );
  await forEachLimit(ends, 16, async (src) => {
    const targets = ends.filter((p) => p !== src).map((p) => ({ key: p.key, ip: p.ip }));
    const results = await probeFrom(src.netns, targets, spec);
    for (const r of results) m.allowed[src.key]![r.key] = r.connected;
  });
  return m;
}
