/**
 * Packet → verdict on the resolved model, with the reason. This is what `tessera policy explain`
 * prints and what the conformance runner checks; it reads the same ResolvedModel the nft renderer does.
 * Semantics (Calico): per direction, tiers in order; a tier no policy of which applies is skipped; in a
 * tier, policies in order, rules in order: Allow/Deny decide, Log continues, Pass leaves the tier; a tier
 * whose policies applied but did not decide ends with its defaultAction (Deny, or Pass to the next tier).
 * If no tier decided, the endpoint's profiles decide in order; if none does, Deny.
 */
import { cidrContainsIp, parseCidr, tryParseIp, type IpAddr } from '../lib/ip.js';
import type {
  EntityIR,
  NamedPortSetDef,
  PortRange,
  ResolvedEndpoint,
  ResolvedModel,
  RuleIR,
  TierPolicies,
} from './ir.js';
import { rulesOf } from './ir.js';
import type { Direction } from './types.js';

export interface Packet {
  src: string;
  dst: string;
  /** IP protocol number (6 TCP, 17 UDP, 132 SCTP, 1 ICMP, 58 ICMPv6). */
  protocol: number;
  srcPort?: number;
  dstPort?: number;
  icmpType?: number;
  icmpCode?: number;
}

export interface Decision {
  allowed: boolean;
  /** What decided: a policy rule, a tier's default action, a profile rule, or the final default deny. */
  by:
    | 'policy-rule'
    | 'tier-default'
    | 'profile-rule'
    | 'no-profile-match'
    | 'failsafe'
    | 'no-host-endpoint'
    | 'endpoint-to-host'
    | 'host-to-own-workload';
  tier?: string;
  policy?: string;
  profile?: string;
  ruleIndex?: number;
  action?: RuleIR['action'];
  /** One line per step taken, for humans. */
  trace: string[];
}

/**
 * Whether `ip` is in a rule's or a set's CIDRs (bare addresses count as host prefixes). Parsed per
 * call, stopping at the first match: an explanation evaluates a few packets, so nothing is cached.
 */
function inNets(ip: IpAddr, nets: readonly string[]): boolean {
  for (const t of nets) {
    const c = parseCidr(t.includes('/') ? t : `${t}/${t.includes(':') ? 128 : 32}`);
    if (c.family === ip.family && cidrContainsIp(c, ip)) return true;
  }
  return false;
}

function inPorts(port: number | undefined, ranges: readonly PortRange[]): boolean {
  return port !== undefined && ranges.some((r) => port >= r.lo && port <= r.hi);
}

function inNamedPort(
  set: NamedPortSetDef | undefined,
  ip: string,
  protocol: number,
  port: number | undefined,
): boolean {
  if (!set || port === undefined) return false;
  return [...set.v4, ...set.v6].some((m) => m.ip === ip && m.protocol === protocol && m.port === port);
}

function entityMatches(
  model: ResolvedModel,
  e: EntityIR,
  ipText: string,
  ip: IpAddr,
  port: number | undefined,
  protocol: number,
): boolean {
  if (e.nets && !inNets(ip, e.nets)) return false;
  if (e.notNets && inNets(ip, e.notNets)) return false;
  const setHas = (sel: string) => {
    const s = model.ipSets.get(sel);
    return s !== undefined && inNets(ip, ip.family === 4 ? s.v4 : s.v6);
  };
  if (e.selector && !setHas(e.selector)) return false;
  if (e.notSelector && setHas(e.notSelector)) return false;
  if (e.ports || e.namedPorts) {
    const ok =
      inPorts(port, e.ports ?? []) ||
      (e.namedPorts ?? []).some((np) => inNamedPort(model.namedPortSets.get(np.setKey), ipText, protocol, port));
    if (!ok) return false;
  }
  if (e.notPorts && inPorts(port, e.notPorts)) return false;
  if ((e.notNamedPorts ?? []).some((np) => inNamedPort(model.namedPortSets.get(np.setKey), ipText, protocol, port)))
    return false;
  return true;
}

/** Whether one rule's match criteria hold for `p` (action not applied). */
export function ruleMatches(model: ResolvedModel, r: RuleIR, p: Packet): boolean {
  const src = tryParseIp(p.src);
  const dst = tryParseIp(p.dst);
  if (!src || !dst) return false;
  if (r.ipVersion !== undefined && src.family !== r.ipVersion) return false;
  if (r.protocol !== undefined && p.protocol !== r.protocol) return false;
  if (r.notProtocol !== undefined && p.protocol === r.notProtocol) return false;
  if (r.icmp) {
    if (p.protocol !== r.protocol || p.icmpType !== r.icmp.type) return false;
    if (r.icmp.code !== undefined && p.icmpCode !== r.icmp.code) return false;
  }
  if (
    r.notICMP &&
    p.protocol === r.protocol &&
    p.icmpType === r.notICMP.type &&
    (r.notICMP.code === undefined || p.icmpCode === r.notICMP.code)
  ) {
    return false;
  }
  if (!entityMatches(model, r.src, p.src, src, p.srcPort, p.protocol)) return false;
  if (!entityMatches(model, r.dst, p.dst, dst, p.dstPort, p.protocol)) return false;
  return true;
}

/**
 * Tiers in order (Calico): the first Allow/Deny decides; Log continues; Pass leaves the tier. A tier
 * whose policies applied but did not decide ends with its defaultAction when `defaultDrop` (normal
 * policy); without it (preDNAT, doNotTrack) the walk goes on. Undefined: nothing decided.
 */
export function walkTiers(
  model: ResolvedModel,
  tiers: readonly TierPolicies[],
  dir: Direction,
  p: Packet,
  trace: string[],
  o: { defaultDrop: boolean; label?: string },
): Decision | undefined {
  const pre = o.label ? `${o.label} ` : '';
  for (const tier of tiers) {
    let passed = false;
    for (const pid of tier.policies) {
      const pol = model.policies.get(pid);
      if (!pol) continue;
      for (const r of rulesOf(pol, dir)) {
        if (!ruleMatches(model, r, p)) continue;
        const where = `${pre}tier "${tier.tier}" policy "${pid}" ${dir} rule ${r.index}`;
        if (r.action === 'Log') {
          trace.push(`${where}: Log, continue`);
          continue;
        }
        if (r.action === 'Pass') {
          trace.push(`${where}: Pass to the next tier`);
          passed = true;
          break;
        }
        trace.push(`${where}: ${r.action}`);
        return {
          allowed: r.action === 'Allow',
          by: 'policy-rule',
          tier: tier.tier,
          policy: pid,
          ruleIndex: r.index,
          action: r.action,
          trace,
        };
      }
      if (passed) break;
      trace.push(`${pre}tier "${tier.tier}" policy "${pid}": no rule matched`);
    }
    if (passed || !o.defaultDrop) continue;
    if (tier.defaultAction === 'Pass') {
      trace.push(`tier "${tier.tier}": no policy decided, defaultAction Pass`);
      continue;
    }
    trace.push(`tier "${tier.tier}": policies applied but none decided, defaultAction Deny`);
    return { allowed: false, by: 'tier-default', tier: tier.tier, trace };
  }
  return undefined;
}

/** The verdict for `p` on one side of `ep`: `egress` for packets it sends, `ingress` for packets it receives. */
export function evaluateEndpoint(model: ResolvedModel, ep: ResolvedEndpoint, dir: Direction, p: Packet): Decision {
  const trace: string[] = [];
  const decided = walkTiers(model, ep[dir], dir, p, trace, { defaultDrop: true });
  if (decided) return decided;
  if (ep[dir].length === 0) trace.push(`no policy applies to ${ep.id} for ${dir}; profiles apply`);
  for (const name of ep.profiles) {
    const prof = model.profiles.get(name);
    if (!prof) continue;
    for (const r of rulesOf(prof, dir)) {
      if (!ruleMatches(model, r, p)) continue;
      if (r.action === 'Log') {
        trace.push(`profile "${name}" ${dir} rule ${r.index}: Log, continue`);
        continue;
      }
      if (r.action === 'Pass') {
        trace.push(`profile "${name}" ${dir} rule ${r.index}: Pass, next profile`);
        break;
      }
      trace.push(`profile "${name}" ${dir} rule ${r.index}: ${r.action}`);
      return {
        allowed: r.action === 'Allow',
        by: 'profile-rule',
        profile: name,
        ruleIndex: r.index,
        action: r.action,
        trace,
      };
    }
  }
  trace.push('no profile rule matched: Deny');
  return { allowed: false, by: 'no-profile-match', trace };
}

export interface Explanation {
  from: string;
  to: string;
  packet: Packet;
  egress: Decision;
  ingress: Decision;
  /** Host endpoints the packet is forwarded through between the two (applyOnForward, preDNAT). */
  hops?: { what: string; decision: Decision }[];
  allowed: boolean;
}

/** Both sides of a connection between two resolved endpoints (first address of `family`). */
export function explainFlow(
  model: ResolvedModel,
  from: ResolvedEndpoint,
  to: ResolvedEndpoint,
  l4: { protocol: number; dstPort?: number; srcPort?: number; icmpType?: number; icmpCode?: number },
  family: 4 | 6 = 4,
): Explanation | undefined {
  const src = (family === 4 ? from.v4 : from.v6)[0];
  const dst = (family === 4 ? to.v4 : to.v6)[0];
  if (src === undefined || dst === undefined) return undefined;
  const packet: Packet = { src, dst, ...l4 };
  const egress = evaluateEndpoint(model, from, 'egress', packet);
  const ingress = evaluateEndpoint(model, to, 'ingress', packet);
  return { from: from.id, to: to.id, packet, egress, ingress, allowed: egress.allowed && ingress.allowed };
}
