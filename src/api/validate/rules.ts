/**
 * Calico Rule / EntityRule validation (libcalico-go's `validateRule` / `validateEntityRule`
 * semantics; the rules walked are listed in ../calico-rules.ts): ports need TCP, UDP or SCTP, ICMP
 * fields need an ICMP protocol, ipVersion must agree with the ICMP flavour (protocol or notProtocol)
 * and every CIDR in the rule, nets are strictly masked CIDRs, `global()` only as a whole
 * namespaceSelector, HTTP only with TCP, service matches only where Calico allows them.
 */
import type { Cidr } from '../../lib/ip.js';
import { parseSelector } from '../selector/index.js';
import {
  checkAnnotations,
  checkCidrField,
  checkOneOf,
  checkSelector,
  checkSubdomain,
  type Problems,
} from './common.js';
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
/** numorstring.Protocol.SupportsPorts: TCP, UDP and SCTP only (not UDPLite). */
const PORT_PROTOCOLS = new Set([6, 17, 132]);
/** Kubernetes IsValidPortName (an IANA service name), which Calico applies to named ports. */
const NAMED_PORT_RE = /^(?=.*[a-z])(?!.*--)[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/;

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
  // Calico's validator matches names case-sensitively (protocolRegex); the JSON decoder does not fold
  // case (only ProtocolFromString, which code uses, does), so "tcp" in a manifest is refused.
  const canonical = ['TCP', 'UDP', 'ICMP', 'ICMPv6', 'SCTP', 'UDPLite'];
  if (canonical.includes(v)) return PROTOCOL_NUMBERS[v.toLowerCase()];
  const folded = canonical.find((c) => c.toLowerCase() === v.toLowerCase());
  p.add(
    path,
    `protocol ${quote(v)} is not one of TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number 1-255${folded ? ` (names are case-sensitive: use ${quote(folded)})` : ''}`,
  );
  return undefined;
}

function checkPort(p: Problems, path: string, v: unknown): void {
  // Calico: "port number must be between 1 and 65535"; 0 is not a port.
  const inRange = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;
  if (typeof v === 'number') {
    if (!inRange(v)) p.add(path, `port ${v} is out of range (1-65535)`);
    return;
  }
  if (typeof v !== 'string') return;
  if (/^\d+$/.test(v)) return checkPort(p, path, Number(v));
  const range = /^(\d+):(\d+)$/.exec(v);
  if (range) {
    const lo = Number(range[1]);
    const hi = Number(range[2]);
    if (!inRange(lo) || !inRange(hi)) p.add(path, `port range ${quote(v)} is out of range (1-65535)`);
    else if (lo > hi) p.add(path, `port range ${quote(v)} has its start after its end`);
    return;
  }
  if (!NAMED_PORT_RE.test(v)) {
    p.add(
      path,
      `${quote(v)} is not a port number, a "start:end" range, or a valid port name ` +
        `(at most 15 lower-case letters, digits and '-', with at least one letter)`,
    );
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

/**
 * Calico: `global()` can only be used in an EntityRule namespaceSelector (a policy's selector,
 * serviceAccountSelector, a GlobalNetworkPolicy's namespaceSelector, a rule's selector refuse it).
 */
export function checkNoGlobal(p: Problems, path: string, v: unknown, where: string): void {
  if (typeof v === 'string' && v.includes('global(')) {
    p.add(path, `global() can only be used in an entity rule namespaceSelector, not in ${where} (${quote(v)})`);
  }
}

/** In a rule's namespaceSelector, `global()` cannot be combined with other selectors. */
function checkGlobalAlone(p: Problems, path: string, v: unknown): void {
  if (typeof v !== 'string' || !v.includes('global(')) return;
  let alone = false;
  try {
    alone = parseSelector(v).kind === 'global';
  } catch {
    return; // checkSelector reported it
  }
  if (!alone) p.add(path, `global() cannot be combined with other selectors (${quote(v)})`);
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
      // Calico parses these with net.ParseCIDR (a prefix length is required) and its `net` tag
      // wants them strictly masked, so "10.1.2.3" and "10.0.0.1/8" are both rejected.
      const cidr = checkCidrField(p, at, n);
      if (!cidr || typeof n !== 'string') return;
      cidrs.push({ path: at, text: n, cidr });
      if (field === 'notNets' && cidr.prefix === 0) {
        p.add(at, `${quote(n)} in notNets matches no traffic at all (a catch-all CIDR in a negation)`);
      }
    });
  }
  for (const field of ['selector', 'notSelector', 'namespaceSelector'] as const) {
    checkSelector(p, joinPath(path, field), e[field]);
  }
  checkNoGlobal(p, joinPath(path, 'selector'), e.selector, 'an entity rule selector');
  checkGlobalAlone(p, joinPath(path, 'namespaceSelector'), e.namespaceSelector);
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
  const notProto = checkProtocol(p, joinPath(path, 'notProtocol'), rule.notProtocol);

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
  // Calico applies the same to notProtocol.
  if (notProto === 1 && version === 6)
    p.add(joinPath(path, 'ipVersion'), 'notProtocol ICMP requires ipVersion 4, got 6');
  if (notProto === 58 && version === 4)
    p.add(joinPath(path, 'ipVersion'), 'notProtocol ICMPv6 requires ipVersion 6, got 4');

  const cidrs: CidrRef[] = [];
  for (const side of ['source', 'destination'] as const) {
    const at = joinPath(path, side);
    const { hasPorts } = checkEntityRule(p, at, rule[side], side, ctx, cidrs);
    if (hasPorts && (proto === undefined || !PORT_PROTOCOLS.has(proto))) {
      const e = rule[side] as Record<string, unknown>;
      const field = Array.isArray(e.ports) && e.ports.length > 0 ? 'ports' : 'notPorts';
      const list = e[field] as unknown[];
      // Calico since projectcalico/calico#11916 accepts named ports alone without a protocol;
      // Tessera's policy compiler does not yet (calico-rules.ts says why), so say so.
      const onlyNamed =
        rule.protocol === undefined && list.every((x) => typeof x === 'string' && !/^\d+(:\d+)?$/.test(x));
      p.add(
        joinPath(at, field),
        `ports need protocol TCP, UDP or SCTP (${protoText(rule.protocol)})${onlyNamed ? '; Tessera does not yet match named ports without a protocol: set the protocol the port is declared with' : ''}`,
      );
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
    if (proto !== undefined && proto !== 6) {
      p.add(joinPath(path, 'protocol'), `HTTP match criteria need protocol TCP or none, got ${quote(rule.protocol)}`);
    }
    if (Array.isArray(http.methods)) {
      const seen = new Set<unknown>();
      http.methods.forEach((m, i) => {
        if (seen.has(m)) p.add(joinPath(joinPath(at, 'methods'), i), `HTTP method ${quote(m)} is repeated`);
        seen.add(m);
      });
    }
    if (Array.isArray(http.paths)) {
      http.paths.forEach((m, i) => {
        if (!isRecord(m)) return;
        const mAt = joinPath(joinPath(at, 'paths'), i);
        const n = (m.exact !== undefined ? 1 : 0) + (m.prefix !== undefined ? 1 : 0);
        if (n !== 1) return p.add(mAt, 'set exactly one of "exact" or "prefix"');
        const v = m.exact ?? m.prefix;
        if (typeof v === 'string' && (!v.startsWith('/') || /[? #]/.test(v))) {
          p.add(mAt, `HTTP path ${quote(v)} must start with "/" and contain no "?", "#" or space`);
        }
      });
    }
  }
  const md = rule.metadata;
  if (isRecord(md)) checkAnnotations(p, joinPath(joinPath(path, 'metadata'), 'annotations'), md.annotations);
}
