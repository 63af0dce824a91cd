/**
 * RuleSpec (Calico v3) → RuleIR. Selector scoping follows libcalico-go's rule conversion:
 * - a namespaced policy's `selector`/`serviceAccounts` match only its own namespace unless the rule has a
 *   `namespaceSelector`; a rule with only `nets` is not namespace-scoped;
 * - `namespaceSelector` keys are matched against `pcns.`-prefixed labels (inherited from `kns.<ns>`
 *   profiles); `global()` there means "not namespaced";
 * - `serviceAccounts.names` matches `projectcalico.org/serviceaccount`, `.selector` `pcsa.` labels.
 */
import { andSelectors, parseSelector, printSelector, type Selector } from '../api/selector/index.js';
import { TesseraError, type Problem, validationError } from '../lib/errors.js';
import { cidrNetwork, formatCidr, parseCidr } from '../lib/ip.js';
import type { EntityIR, IcmpMatch, NamedPortRef, PortRange, RuleIR } from './ir.js';
import type { EntityRuleSpec, IcmpFields, RuleSpec } from './types.js';

export const NAMESPACE_LABEL = 'projectcalico.org/namespace';
export const ORCHESTRATOR_LABEL = 'projectcalico.org/orchestrator';
export const SERVICE_ACCOUNT_LABEL = 'projectcalico.org/serviceaccount';
export const NAME_LABEL = 'projectcalico.org/name';
export const NS_PREFIX = 'pcns.';
export const SA_PREFIX = 'pcsa.';

const PROTOCOLS: Record<string, number> = { tcp: 6, udp: 17, icmp: 1, icmpv6: 58, sctp: 132, udplite: 136 };

export function protocolNumber(p: string | number, path: string): number {
  if (typeof p === 'number') {
    if (Number.isInteger(p) && p >= 0 && p <= 255) return p;
  } else {
    const n = PROTOCOLS[p.toLowerCase()];
    if (n !== undefined) return n;
    if (/^\d+$/.test(p) && Number(p) <= 255) return Number(p);
  }
  throw validationError('invalid rule', [{ path, message: `unknown protocol ${JSON.stringify(p)}` }]);
}

/** Rewrites label keys with `prefix`; `global()` becomes "has no namespace label". */
export function prefixSelector(s: Selector, prefix: string): Selector {
  switch (s.kind) {
    case 'all':
      return s;
    case 'global':
      return { kind: 'not', operand: { kind: 'has', key: NAMESPACE_LABEL } };
    case 'not':
      return { kind: 'not', operand: prefixSelector(s.operand, prefix) };
    case 'and':
    case 'or':
      return { kind: s.kind, operands: s.operands.map((o) => prefixSelector(o, prefix)) };
    default:
      return { ...s, key: prefix + s.key };
  }
}

function mentionsGlobal(s: Selector): boolean {
  if (s.kind === 'global') return true;
  if (s.kind === 'not') return mentionsGlobal(s.operand);
  if (s.kind === 'and' || s.kind === 'or') return s.operands.some(mentionsGlobal);
  return false;
}

/**
 * A `namespaceSelector` → selector over endpoint labels. Calico documents it as matching only endpoints
 * in the selected namespaces, so unless it uses `global()` it also requires the namespace label: that
 * keeps `all()` or a negative match such as `team != "a"` from reaching non-namespaced sets and hosts.
 */
export function namespaceSelectorFor(s: Selector): Selector {
  const prefixed = prefixSelector(s, NS_PREFIX);
  return mentionsGlobal(s) ? prefixed : andSelectors({ kind: 'has', key: NAMESPACE_LABEL }, prefixed);
}

const nsEq = (ns: string): Selector => ({ kind: 'eq', key: NAMESPACE_LABEL, value: ns });

function parseSel(text: string, path: string): Selector {
  try {
    return parseSelector(text);
  } catch (e) {
    throw new TesseraError('validation', `invalid selector at ${path}: ${JSON.stringify(text)}`, {
      cause: e,
      problems: [{ path, message: `invalid selector ${JSON.stringify(text)}` }],
    });
  }
}

const nonEmpty = (s: string | undefined): s is string => s !== undefined && s.trim() !== '';

/** The scoped selector an entity's `selector` + `namespaceSelector` + `serviceAccounts` denote, if any. */
export function entitySelector(
  er: EntityRuleSpec,
  policyNamespace: string | undefined,
  path: string,
): Selector | undefined {
  const parts: Selector[] = [];
  if (nonEmpty(er.selector)) parts.push(parseSel(er.selector, `${path}.selector`));
  const sa = er.serviceAccounts;
  if (sa && (sa.names?.length || nonEmpty(sa.selector))) {
    if (sa.names?.length) parts.push({ kind: 'in', key: SERVICE_ACCOUNT_LABEL, values: [...sa.names] });
    if (nonEmpty(sa.selector))
      parts.push(prefixSelector(parseSel(sa.selector, `${path}.serviceAccounts.selector`), SA_PREFIX));
  }
  const hasNsSel = nonEmpty(er.namespaceSelector);
  if (parts.length === 0 && !hasNsSel) return undefined;
  if (hasNsSel) parts.push(namespaceSelectorFor(parseSel(er.namespaceSelector as string, `${path}.namespaceSelector`)));
  else if (policyNamespace !== undefined) parts.push(nsEq(policyNamespace));
  return andSelectors(...parts);
}

/** Canonical text of a CIDR list entry: network address; a host prefix prints as the bare address. */
export function canonicalNet(text: string, path: string): string {
  let c;
  try {
    c = cidrNetwork(parseCidr(text.includes('/') ? text : `${text}/${text.includes(':') ? 128 : 32}`));
  } catch (e) {
    throw new TesseraError('validation', `invalid CIDR ${JSON.stringify(text)} at ${path}`, {
      cause: e,
      problems: [{ path, message: `invalid CIDR ${JSON.stringify(text)}` }],
    });
  }
  return formatCidr(c);
}

function parsePorts(
  ports: readonly (number | string)[],
  path: string,
  selector: string,
  problems: Problem[],
): { ranges: PortRange[]; named: NamedPortRef[] } {
  const ranges: PortRange[] = [];
  const named: NamedPortRef[] = [];
  ports.forEach((p, i) => {
    const at = `${path}[${i}]`;
    if (typeof p === 'number') {
      if (Number.isInteger(p) && p >= 0 && p <= 65535) ranges.push({ lo: p, hi: p });
      else problems.push({ path: at, message: `port ${p} is out of range 0-65535` });
      return;
    }
    const m = /^(\d+)(?::(\d+))?$/.exec(p);
    if (m) {
      const lo = Number(m[1]);
      const hi = m[2] === undefined ? lo : Number(m[2]);
      if (lo > 65535 || hi > 65535 || hi < lo)
        problems.push({ path: at, message: `invalid port range ${JSON.stringify(p)}` });
      else ranges.push({ lo, hi });
      return;
    }
    if (p === '') problems.push({ path: at, message: 'empty port name' });
    else named.push({ setKey: `${selector}|${p}`, selector, name: p });
  });
  return { ranges, named };
}

function compileEntity(
  er: EntityRuleSpec | undefined,
  policyNamespace: string | undefined,
  path: string,
  problems: Problem[],
): EntityIR {
  if (!er) return {};
  const out: {
    -readonly [K in keyof EntityIR]: EntityIR[K];
  } = {};
  if (er.nets?.length) out.nets = er.nets.map((n, i) => canonicalNet(n, `${path}.nets[${i}]`));
  if (er.notNets?.length) out.notNets = er.notNets.map((n, i) => canonicalNet(n, `${path}.notNets[${i}]`));
  const sel = entitySelector(er, policyNamespace, path);
  if (sel) out.selector = printSelector(sel);
  if (nonEmpty(er.notSelector)) {
    // notSelector is namespace-scoped like selector: "not (these labels in this namespace)".
    const parts = [parseSel(er.notSelector, `${path}.notSelector`)];
    if (policyNamespace !== undefined && !nonEmpty(er.namespaceSelector)) parts.push(nsEq(policyNamespace));
    out.notSelector = printSelector(andSelectors(...parts));
  }
  // Named ports are looked up on the endpoints the entity selects (all endpoints when it selects none).
  const portSel = out.selector ?? 'all()';
  if (er.ports?.length) {
    const { ranges, named } = parsePorts(er.ports, `${path}.ports`, portSel, problems);
    out.ports = ranges;
    out.namedPorts = named;
  }
  if (er.notPorts?.length) {
    const { ranges, named } = parsePorts(er.notPorts, `${path}.notPorts`, portSel, problems);
    out.notPorts = ranges;
    out.notNamedPorts = named;
  }
  return out;
}

function icmpOf(f: IcmpFields | undefined, path: string, problems: Problem[]): IcmpMatch | undefined {
  if (!f || f.type === undefined) {
    if (f?.code !== undefined) problems.push({ path: `${path}.code`, message: 'icmp code needs a type' });
    return undefined;
  }
  return f.code === undefined ? { type: f.type } : { type: f.type, code: f.code };
}

const PORT_PROTOCOLS = new Set([6, 17, 132, 136]);

export function compileRule(spec: RuleSpec, index: number, policyNamespace: string | undefined, path: string): RuleIR {
  const problems: Problem[] = [];
  if (!['Allow', 'Deny', 'Log', 'Pass'].includes(spec.action)) {
    problems.push({ path: `${path}.action`, message: `unknown action ${JSON.stringify(spec.action)}` });
  }
  const rule: { -readonly [K in keyof RuleIR]: RuleIR[K] } = {
    action: spec.action,
    index,
    src: compileEntity(spec.source, policyNamespace, `${path}.source`, problems),
    dst: compileEntity(spec.destination, policyNamespace, `${path}.destination`, problems),
  };
  if (spec.ipVersion !== undefined) rule.ipVersion = spec.ipVersion;
  if (spec.protocol !== undefined) rule.protocol = protocolNumber(spec.protocol, `${path}.protocol`);
  if (spec.notProtocol !== undefined) rule.notProtocol = protocolNumber(spec.notProtocol, `${path}.notProtocol`);
  const icmp = icmpOf(spec.icmp, `${path}.icmp`, problems);
  const notICMP = icmpOf(spec.notICMP, `${path}.notICMP`, problems);
  if (icmp) rule.icmp = icmp;
  if (notICMP) rule.notICMP = notICMP;
  if ((icmp || notICMP) && rule.protocol !== 1 && rule.protocol !== 58) {
    problems.push({ path: `${path}.icmp`, message: 'icmp/notICMP need protocol ICMP or ICMPv6' });
  }
  if (rule.protocol === 1 && rule.ipVersion === 6)
    problems.push({ path: `${path}.ipVersion`, message: 'ICMP is IPv4-only' });
  if (rule.protocol === 58 && rule.ipVersion === 4)
    problems.push({ path: `${path}.ipVersion`, message: 'ICMPv6 is IPv6-only' });
  for (const [side, e] of [
    ['source', rule.src],
    ['destination', rule.dst],
  ] as const) {
    if ((e.ports || e.notPorts) && (rule.protocol === undefined || !PORT_PROTOCOLS.has(rule.protocol))) {
      problems.push({ path: `${path}.${side}.ports`, message: 'ports need protocol TCP, UDP, SCTP or UDPLite' });
    }
  }
  if (problems.length) throw validationError(`invalid rule at ${path}`, problems);
  return rule;
}

/** Every selector (canonical text) a rule needs an IP set for, and its named-port sets. */
export function ruleSelectors(r: RuleIR): { selectors: string[]; namedPorts: NamedPortRef[] } {
  const selectors: string[] = [];
  const namedPorts: NamedPortRef[] = [];
  for (const e of [r.src, r.dst]) {
    if (e.selector) selectors.push(e.selector);
    if (e.notSelector) selectors.push(e.notSelector);
    for (const np of [...(e.namedPorts ?? []), ...(e.notNamedPorts ?? [])]) namedPorts.push(np);
  }
  for (const np of namedPorts) selectors.push(np.selector);
  return { selectors, namedPorts };
}

export function allowAllRule(index: number): RuleIR {
  return { action: 'Allow', index, src: {}, dst: {} };
}
