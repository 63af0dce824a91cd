/**
 * Host-endpoint verdicts on the resolved model (pure), in the order Felix's chains apply them, for
 * `tessera policy explain` with a node on either side. Traffic to or from a host process:
 *   failsafes → doNotTrack policy (named interfaces) → preDNAT policy (ingress) → normal policy
 *   (tiers, then profiles, then default deny); a node without a host endpoint is not policed.
 * Workload ↔ its own host: workload → host is the workload's egress policy, then
 * defaultEndpointToHostAction; host → its own workloads is never policed (Felix).
 * Traffic routed through a node's host endpoint: its applyOnForward policies (none: allowed).
 */
import { cidrContainsIp, parseCidr, tryParseIp } from '../lib/ip.js';
import { evaluateEndpoint, walkTiers, type Decision, type Packet } from './evaluate.js';
import type {
  FailsafeRule,
  HostConfig,
  ResolvedEndpoint,
  ResolvedHostEndpoint,
  ResolvedModel,
  TierPolicies,
} from './ir.js';
import type { Direction } from './types.js';

function failsafeHit(list: readonly FailsafeRule[], p: Packet, peer: string): FailsafeRule | undefined {
  const ip = tryParseIp(peer);
  return list.find((f) => {
    if (f.protocol !== p.protocol || f.port !== p.dstPort) return false;
    if (!f.net) return true;
    const c = parseCidr(f.net);
    return ip !== undefined && c.family === ip.family && cidrContainsIp(c, ip);
  });
}

/** Tiers without a default drop (preDNAT, untracked): a decision, or undefined to continue. */
function firstMatch(
  model: ResolvedModel,
  tiers: readonly TierPolicies[],
  dir: Direction,
  p: Packet,
  label: string,
  trace: string[],
): Decision | undefined {
  const d = walkTiers(model, tiers, dir, p, trace, { defaultDrop: false, label });
  if (!d) trace.push(`${label}: no rule matched, continue`);
  return d;
}

/** As evaluateEndpoint, over one of a host endpoint's policy lists. */
function normalPolicy(
  model: ResolvedModel,
  hep: ResolvedHostEndpoint,
  lists: { ingress: readonly TierPolicies[]; egress: readonly TierPolicies[] },
  dir: Direction,
  p: Packet,
  trace: string[],
): Decision {
  const asEndpoint: ResolvedEndpoint = {
    id: hep.id,
    name: hep.name,
    namespace: '',
    pod: hep.name,
    node: hep.node,
    interfaceName: hep.interfaceName ?? '',
    v4: hep.v4,
    v6: hep.v6,
    ingress: lists.ingress,
    egress: lists.egress,
    profiles: hep.profiles,
  };
  const d = evaluateEndpoint(model, asEndpoint, dir, p);
  return { ...d, trace: [...trace, ...d.trace] };
}

/**
 * The verdict of host endpoint `hep` for a packet to (`ingress`) or from (`egress`) a host process;
 * `hep` undefined: the node has no host endpoint and nothing is policed.
 */
export function evaluateHost(
  model: ResolvedModel,
  hep: ResolvedHostEndpoint | undefined,
  dir: Direction,
  p: Packet,
): Decision {
  if (!hep || hep.interfaceName === undefined) {
    return {
      allowed: true,
      by: 'no-host-endpoint',
      trace: [
        hep
          ? `host endpoint "${hep.name}" matches no interface: not policed`
          : 'no host endpoint on this node: not policed',
      ],
    };
  }
  const host = model.host as HostConfig;
  const trace: string[] = [];
  const fs =
    dir === 'ingress' ? failsafeHit(host.failsafeInbound, p, p.src) : failsafeHit(host.failsafeOutbound, p, p.dst);
  if (fs) {
    trace.push(
      `failsafe ${dir === 'ingress' ? 'inbound' : 'outbound'} ${fs.protocol}:${fs.port}${fs.net ? ` from ${fs.net}` : ''}: Allow`,
    );
    return { allowed: true, by: 'failsafe', trace };
  }
  if (hep.interfaceName !== '*') {
    const d = firstMatch(model, hep.untracked[dir], dir, p, 'doNotTrack', trace);
    if (d) return d;
  }
  if (dir === 'ingress') {
    const d = firstMatch(model, hep.preDNAT.ingress, dir, p, 'preDNAT', trace);
    if (d) return d;
  }
  return normalPolicy(model, hep, hep.normal, dir, p, trace);
}

/** applyOnForward policy of `hep` for traffic routed through it (in: arriving, out: leaving). */
export function evaluateHostForward(
  model: ResolvedModel,
  hep: ResolvedHostEndpoint | undefined,
  dir: Direction,
  p: Packet,
): Decision {
  if (!hep || hep.interfaceName === undefined)
    return { allowed: true, by: 'no-host-endpoint', trace: ['no host endpoint: forwarded traffic not policed'] };
  const trace: string[] = [];
  if (dir === 'ingress') {
    const d = firstMatch(model, hep.preDNAT.ingress, dir, p, 'preDNAT', trace);
    if (d) return d;
  }
  if (!hep.forward[dir].length) {
    trace.push(`no applyOnForward policy selects "${hep.name}" for ${dir}: forwarded traffic allowed`);
    return { allowed: true, by: 'no-host-endpoint', trace };
  }
  return normalPolicy(model, hep, hep.forward, dir, p, trace);
}

/** Workload → its own host: the workload's egress policy, then defaultEndpointToHostAction. */
export function evaluateWorkloadToHost(model: ResolvedModel, from: ResolvedEndpoint, p: Packet): Decision {
  const egress = evaluateEndpoint(model, from, 'egress', p);
  if (!egress.allowed) return egress;
  const action = model.host?.defaultEndpointToHostAction ?? 'Drop';
  return {
    allowed: action !== 'Drop',
    by: 'endpoint-to-host',
    trace: [...egress.trace, `workload egress allowed; defaultEndpointToHostAction ${action}`],
  };
}
