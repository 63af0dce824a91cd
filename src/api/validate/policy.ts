/** NetworkPolicy, GlobalNetworkPolicy, Tier, Profile, NetworkSet, GlobalNetworkSet. */
import { builtinTier, DEFAULT_TIER } from '../tiers.js';
import {
  checkCidrField,
  checkDnsLabel,
  checkLabels,
  checkOneOf,
  checkSelector,
  DNS1123_LABEL_RE,
  DNS1123_SUBDOMAIN_RE,
  type Problems,
} from './common.js';
import { checkNoGlobal, validateRule } from './rules.js';
import { joinPath, quote } from './shape.js';

const HOST_ONLY = ['doNotTrack', 'preDNAT', 'applyOnForward'] as const;

function validateRules(p: Problems, spec: Record<string, unknown>, global: boolean): void {
  for (const direction of ['ingress', 'egress'] as const) {
    const rules = spec[direction];
    if (!Array.isArray(rules)) continue;
    rules.forEach((r, i) => validateRule(p, joinPath(joinPath('spec', direction), i), r, { direction, global }));
  }
}

/**
 * Calico v3 tiered names: a policy outside the default tier must be named `<tier>.<name>`; in the
 * default tier the prefix is optional.
 */
function checkTieredName(p: Problems, spec: Record<string, unknown>, name: string): void {
  const tier = typeof spec.tier === 'string' && spec.tier !== '' ? spec.tier : DEFAULT_TIER;
  if (typeof spec.tier === 'string') checkDnsLabel(p, 'spec.tier', spec.tier, 'tier name');
  if (tier !== DEFAULT_TIER && !name.startsWith(`${tier}.`)) {
    p.add('metadata.name', `policy in tier ${quote(tier)} must be named "${tier}.<name>", got ${quote(name)}`);
  }
  if (name.startsWith(`${tier}.`) && name.length === tier.length + 1) {
    p.add('metadata.name', `policy name ${quote(name)} has nothing after the tier prefix`);
  }
}

const LABEL = DNS1123_LABEL_RE.source.slice(1, -1);
/** Calico's networkPolicyNameRegex: a label, `<tier>.<label>`, or a `knp.default.`/`ossg.default.` name. */
const NP_NAME_RE = new RegExp(
  `^(${LABEL}(\\.${LABEL})?|(knp|ossg)\\.default\\.${DNS1123_SUBDOMAIN_RE.source.slice(1, -1)})$`,
);
/** Calico's globalNetworkPolicyNameRegex: a label, or `<tier>.<label>` (one dot at most). */
const GNP_NAME_RE = new RegExp(`^(${LABEL}\\.)?${LABEL}$`);

function checkPolicyName(p: Problems, name: string, global: boolean): void {
  if (name === '' || (global ? GNP_NAME_RE : NP_NAME_RE).test(name)) return;
  p.add(
    'metadata.name',
    `policy name ${quote(name)} must be a DNS-1123 label, optionally after its tier and one dot ` +
      `("<tier>.<name>": lower-case alphanumerics and '-', no further dots)`,
  );
}

function validatePolicyCommon(p: Problems, spec: Record<string, unknown>, name: string, global: boolean): void {
  checkTieredName(p, spec, name);
  checkPolicyName(p, name, global);
  checkSelector(p, 'spec.selector', spec.selector);
  checkSelector(p, 'spec.serviceAccountSelector', spec.serviceAccountSelector);
  checkNoGlobal(p, 'spec.selector', spec.selector, 'a policy selector');
  checkNoGlobal(p, 'spec.serviceAccountSelector', spec.serviceAccountSelector, 'a serviceAccountSelector');
  if (Array.isArray(spec.types)) {
    const seen = new Set<unknown>();
    spec.types.forEach((t, i) => {
      const at = joinPath('spec.types', i);
      if (checkOneOf(p, at, t, ['Ingress', 'Egress'] as const) && seen.has(t))
        p.add(at, `type ${quote(t)} is repeated`);
      seen.add(t);
    });
    for (const [direction, type] of [
      ['ingress', 'Ingress'],
      ['egress', 'Egress'],
    ] as const) {
      const rules = spec[direction];
      if (Array.isArray(rules) && rules.length > 0 && !seen.has(type)) {
        p.add(joinPath('spec', direction), `${direction} rules are present but spec.types does not include "${type}"`);
      }
    }
  }
  if (Array.isArray(spec.performanceHints)) {
    spec.performanceHints.forEach((h, i) =>
      checkOneOf(p, joinPath('spec.performanceHints', i), h, ['AssumeNeededOnEveryNode'] as const),
    );
  }
  validateRules(p, spec, global);
}

export function validateNetworkPolicy(p: Problems, spec: Record<string, unknown>, name: string): void {
  validatePolicyCommon(p, spec, name, false);
}

export function validateGlobalNetworkPolicy(p: Problems, spec: Record<string, unknown>, name: string): void {
  validatePolicyCommon(p, spec, name, true);
  checkSelector(p, 'spec.namespaceSelector', spec.namespaceSelector);
  checkNoGlobal(p, 'spec.namespaceSelector', spec.namespaceSelector, "a policy's namespaceSelector");
  validateHostOptions(p, spec);
}

/**
 * Calico's rules for the host-endpoint options (libcalico-go's GlobalNetworkPolicy validator):
 * preDNAT and doNotTrack exclude each other, each needs applyOnForward (they apply to all forwarded
 * traffic), and a preDNAT policy has ingress rules only.
 */
function validateHostOptions(p: Problems, spec: Record<string, unknown>): void {
  for (const f of HOST_ONLY) {
    if (spec[f] !== undefined && spec[f] !== null && typeof spec[f] !== 'boolean')
      p.add(joinPath('spec', f), `${quote(spec[f])} is not true or false`);
  }
  if (spec.preDNAT === true && spec.doNotTrack === true) {
    p.add('spec.preDNAT', 'preDNAT and doNotTrack cannot both be true');
  }
  for (const f of ['preDNAT', 'doNotTrack'] as const) {
    if (spec[f] === true && spec.applyOnForward !== true) {
      p.add(
        'spec.applyOnForward',
        `applyOnForward must be true when ${f} is true (got ${quote(spec.applyOnForward ?? false)})`,
      );
    }
  }
  if (spec.preDNAT === true) {
    if (Array.isArray(spec.egress) && spec.egress.length > 0)
      p.add('spec.egress', 'a preDNAT policy cannot have egress rules');
    if (Array.isArray(spec.types) && spec.types.includes('Egress')) {
      p.add(joinPath('spec.types', spec.types.indexOf('Egress')), 'a preDNAT policy cannot have type "Egress"');
    }
  }
}

export function validateTier(p: Problems, spec: Record<string, unknown>, name: string): void {
  checkOneOf(p, 'spec.defaultAction', spec.defaultAction, ['Deny', 'Pass'] as const);
  const builtin = builtinTier(name);
  if (builtin && spec.order !== undefined && spec.order !== null && spec.order !== builtin.spec?.order) {
    p.add(
      'spec.order',
      `built-in tier ${quote(name)} has fixed order ${builtin.spec?.order}, got ${quote(spec.order)}`,
    );
  }
}

/** The Profile CRD's MaxItems on each rule list. */
export const PROFILE_MAX_RULES = 1024;

export function validateProfile(p: Problems, spec: Record<string, unknown>): void {
  checkLabels(p, 'spec.labelsToApply', spec.labelsToApply);
  for (const dir of ['ingress', 'egress'] as const) {
    const list = spec[dir];
    if (Array.isArray(list) && list.length > PROFILE_MAX_RULES)
      p.add(joinPath('spec', dir), `at most ${PROFILE_MAX_RULES} rules, got ${list.length}`);
  }
  validateRules(p, spec, true);
}

/** The label Calico reserves for the namespace of v1 data; refused on (Global)NetworkSets. */
const NAMESPACE_LABEL = 'projectcalico.org/namespace';

export function validateNetworkSet(p: Problems, spec: Record<string, unknown>, labels?: unknown): void {
  if (labels !== null && typeof labels === 'object' && NAMESPACE_LABEL in labels) {
    p.add(
      joinPath('metadata.labels', NAMESPACE_LABEL),
      `${NAMESPACE_LABEL} is reserved and is not a valid label name here`,
    );
  }
  if (!Array.isArray(spec.nets)) return;
  spec.nets.forEach((n, i) => checkCidrField(p, joinPath('spec.nets', i), n, { strict: false, allowBareIp: true }));
}
