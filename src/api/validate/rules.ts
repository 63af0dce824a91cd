/**
 * Calico Rule / EntityRule validation (libcalico-go's `validateRule` semantics):
 * ports need a port-bearing protocol, ICMP fields need an ICMP protocol, ipVersion must agree with
 * the ICMP flavour and every CIDR in the rule, service matches only where Calico allows them.
 */
import type { Cidr } from '../../lib/ip.js';
import { checkCidrField, checkOneOf, checkSelector, checkSubdomain, type Problems } from './common.js';
import { isRecord, joinPath, quote } from './shape.js';

export type RuleDirection = 'ingress' | 'egress';

export interface RuleContext {
  direction: RuleDirection;
  /** GlobalNetworkPolicy / Profile: service matches must name their namespace. */
  global: boolean;
}

const ACTIONS = ['Allow', 'Deny', 'Log', 'Pass'] as const;
const PROTOCOL_NUMBERS: Readonly<Record<string, number>> = {
  tcp: 6,
  udp: 17,
  icmp: 1,
  icmpv6: 58,
  sctp: 132,
  udplite: 136,
};
const PORT_PROTOCOLS = new Set([6, 17, 132, 136]);
const NAMED_PORT_RE = /^[a-zA-Z0-9_.-]{1,128}$/;

/** Protocol as a number, or undefined (reporting a problem when it is invalid). */
function checkProtocol(p: Problems, path: string, v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 1 && v <= 255) return v;
    p.add(path, `protocol ${v} is out of range (1-255)`);
    return undefined;
  }
  if (typeof v !== 'string') return undefined;
  if (/^\d+$/.test(v)) return checkProtocol(p, path, Number(v));
  const canonical = ['TCP', 'UDP', 'ICMP', 'ICMPv6', 'SCTP', 'UDPLite'];
  if (canonical.includes(v) || canonical.map((c) => c.toLowerCase()).includes(v)) {
    return PROTOCOL_NUMBERS[v.toLowerCase()];
  }
  p.add(path, `protocol ${quote(v)} is not one of TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number 1-255`);
  return undefined;
}

function checkPort(p: Problems, path: string, v: unknown): void {
  const inRange = (n: number) => Number.isInteger(n) && n >= 0 && n <= 65535;
  if (typeof v === 'number') {
    if (!inRange(v)) p.add(path, `port ${v} is out of range (0-65535)`);
    return;
  }
  if (typeof v !== 'string') return;
  if (/^\d+$/.test(v)) return checkPort(p, path, Number(v));
  const range = /^(\d+):(\d+)$/.exec(v);
  if (range) {
    const lo = Number(range[1]);
    const hi = Number(range[2]);
    if (!inRange(lo) || !inRange(hi)) p.add(path, `port range ${quote(v)} is out of range (0-65535)`);
    else if (lo > hi) p.add(path, `port range ${quote(v)} has its start after its end`);
    return;
  }
  if (!NAMED_PORT_RE.test(v)) {
    p.add(path, `${quote(v)} is not a port number, a "start:end" range, or a valid port name`);
  }
}

function checkIcmp(p: Problems, path: string, v: unknown): void {
  if (!isRecord(v)) return;
  const { type, code } = v;
  if (typeof type === 'number' && Number.isInteger(type) && (type < 0 || type > 254)) {
    p.add(joinPath(path, 'type'), `ICMP type ${type} is out of range (0-254)`);
  }
  if (typeof code === 'number' && Number.isInteger(code) && (code < 0 || code > 255)) {
    p.add(joinPath(path, 'code'), `ICMP code ${code} is out of range (0-255)`);
  }
  if (code !== undefined && code !== null && (type === undefined || type === null)) {
    p.add(joinPath(path, 'code'), `ICMP code ${quote(code)} is set without an ICMP type`);
  }
}

interface CidrRef {
  path: string;
  text: string;
  cidr: Cidr;
}

function checkEntityRule(
  p: Problems,
  path: string,
  e: unknown,
  side: 'source' | 'destination',
  ctx: RuleContext,
  cidrs: CidrRef[],
): { hasPorts: boolean } {
  if (!isRecord(e)) return { hasPorts: false };
  for (const field of ['nets', 'notNets'] as const) {
    const list = e[field];
    if (!Array.isArray(list)) continue;
    list.forEach((n, i) => {
      const at = joinPath(joinPath(path, field), i);
      // Calico accepts a bare address or host bits here and masks them; so do we.
      const cidr = checkCidrField(p, at, n, { strict: false, allowBareIp: true });
      if (cidr && typeof n === 'string') cidrs.push({ path: at, text: n, cidr });
    });
  }
  for (const field of ['selector', 'notSelector', 'namespaceSelector'] as const) {
    checkSelector(p, joinPath(path, field), e[field]);
  }
  for (const field of ['ports', 'notPorts'] as const) {
    const list = e[field];
    if (Array.isArray(list)) list.forEach((port, i) => checkPort(p, joinPath(joinPath(path, field), i), port));
  }
  const sa = e.serviceAccounts;
  if (isRecord(sa)) {
    if (Array.isArray(sa.names)) {
      sa.names.forEach((n, i) =>
        checkSubdomain(p, joinPath(joinPath(joinPath(path, 'serviceAccounts'), 'names'), i), n, 'service account name'),
      );
    }
    checkSelector(p, joinPath(joinPath(path, 'serviceAccounts'), 'selector'), sa.selector);
  }
  const svc = e.services;
  if (isRecord(svc)) {
    const at = joinPath(path, 'services');
    if (typeof svc.name !== 'string' || svc.name === '') p.add(joinPath(at, 'name'), 'service name is required');
    else checkSubdomain(p, joinPath(at, 'name'), svc.name, 'service name');
    if (svc.namespace !== undefined) checkSubdomain(p, joinPath(at, 'namespace'), svc.namespace, 'namespace');
    else if (ctx.global) p.add(joinPath(at, 'namespace'), 'service namespace is required in a global policy');
    const allowedHere =
      (ctx.direction === 'egress' && side === 'destination') || (ctx.direction === 'ingress' && side === 'source');
    if (!allowedHere) {
      p.add(at, `services can only be matched in egress rule destinations and ingress rule sources`);
    } else {
      const others = Object.keys(e).filter(
        (k) =>
          k !== 'services' &&
          e[k] !== null &&
          e[k] !== undefined &&
          (side === 'destination' || (k !== 'ports' && k !== 'notPorts')),
      );
      if (others.length > 0) {
        p.add(
          at,
          side === 'destination'
            ? `services cannot be combined with other destination match criteria (${others.join(', ')})`
            : `services can only be combined with ports and notPorts (also set: ${others.join(', ')})`,
        );
      }
    }
  }
  const hasPorts =
    (Array.isArray(e.ports) && e.ports.length > 0) || (Array.isArray(e.notPorts) && e.notPorts.length > 0);
  return { hasPorts };
}

const protoText = (v: unknown) => (v === undefined || v === null ? 'no protocol is set' : `protocol is ${quote(v)}`);

export function validateRule(p: Problems, path: string, rule: unknown, ctx: RuleContext): void {
  if (!isRecord(rule)) return;
  if (rule.action === undefined || rule.action === null) p.add(joinPath(path, 'action'), 'action is required');
  else checkOneOf(p, joinPath(path, 'action'), rule.action, ACTIONS);

  const proto = checkProtocol(p, joinPath(path, 'protocol'), rule.protocol);
  checkProtocol(p, joinPath(path, 'notProtocol'), rule.notProtocol);

  const ipVersion = rule.ipVersion;
  const version = ipVersion === 4 || ipVersion === 6 ? ipVersion : undefined;
  if (typeof ipVersion === 'number' && version === undefined) {
    p.add(joinPath(path, 'ipVersion'), `ipVersion ${ipVersion} is not 4 or 6`);
  }

  for (const field of ['icmp', 'notICMP'] as const) {
    const v = rule[field];
    if (!isRecord(v)) continue;
    const at = joinPath(path, field);
    checkIcmp(p, at, v);
    if (proto !== 1 && proto !== 58) {
      p.add(at, `${field} requires protocol ICMP or ICMPv6 (${protoText(rule.protocol)})`);
    }
  }
  if (proto === 1 && version === 6) p.add(joinPath(path, 'ipVersion'), 'protocol ICMP requires ipVersion 4, got 6');
  if (proto === 58 && version === 4) p.add(joinPath(path, 'ipVersion'), 'protocol ICMPv6 requires ipVersion 6, got 4');

  const cidrs: CidrRef[] = [];
  for (const side of ['source', 'destination'] as const) {
    const at = joinPath(path, side);
    const { hasPorts } = checkEntityRule(p, at, rule[side], side, ctx, cidrs);
    if (hasPorts && (proto === undefined || !PORT_PROTOCOLS.has(proto))) {
      const e = rule[side] as Record<string, unknown>;
      const field = Array.isArray(e.ports) && e.ports.length > 0 ? 'ports' : 'notPorts';
      p.add(joinPath(at, field), `ports need protocol TCP, UDP, SCTP or UDPLite (${protoText(rule.protocol)})`);
    }
  }

  const family = version ?? (proto === 1 ? 4 : proto === 58 ? 6 : cidrs[0]?.cidr.family);
  for (const c of cidrs) {
    if (c.cidr.family === family) continue;
    const why =
      version !== undefined
        ? `rule has ipVersion ${version}`
        : proto === 1 || proto === 58
          ? `rule has protocol ${quote(rule.protocol)}`
          : `rule also has IPv${family} CIDR ${quote(cidrs[0]!.text)}`;
    p.add(c.path, `${quote(c.text)} is an IPv${c.cidr.family} CIDR but ${why}`);
  }

  const http = rule.http;
  if (isRecord(http)) {
    const at = joinPath(path, 'http');
    if (ctx.direction !== 'ingress') p.add(at, 'HTTP match criteria are only supported in ingress rules');
    if (rule.action !== 'Allow') p.add(at, `HTTP match criteria require action "Allow", got ${quote(rule.action)}`);
    if (Array.isArray(http.paths)) {
      http.paths.forEach((m, i) => {
        if (!isRecord(m)) return;
        const n = (m.exact !== undefined ? 1 : 0) + (m.prefix !== undefined ? 1 : 0);
        if (n !== 1) p.add(joinPath(joinPath(at, 'paths'), i), 'set exactly one of "exact" or "prefix"');
      });
    }
  }
  const md = rule.metadata;
  if (isRecord(md) && isRecord(md.annotations)) {
    for (const key of Object.keys(md.annotations)) {
      if (key === '') p.add(joinPath(joinPath(path, 'metadata'), 'annotations'), 'annotation keys must not be empty');
    }
  }
}
