/** NetworkPolicy, GlobalNetworkPolicy, Tier, Profile, NetworkSet, GlobalNetworkSet. */
import { builtinTier, DEFAULT_TIER } from '../tiers.js';
import {
  checkCidrField,
  checkDnsLabel,
  checkLabels,
  checkOneOf,
  checkSelector,
  type Problems,
} from './common.js';
import { validateRule } from './rules.js';
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

function validatePolicyCommon(p: Problems, spec: Record<string, unknown>, name: string, global: boolean): void {
  checkTieredName(p, spec, name);
  checkSelector(p, 'spec.selector', spec.selector);
  checkSelector(p, 'spec.serviceAccountSelector', spec.serviceAccountSelector);
  if (Array.isArray(spec.types)) {
    const seen = new Set<unknown>();
    spec.types.forEach((t, i) => {
      const at = joinPath('spec.types', i);
      if (checkOneOf(p, at, t, ['Ingress', 'Egress'] as const) && seen.has(t)) p.add(at, `type ${quote(t)} is repeated`);
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
  for (const f of HOST_ONLY) {
    if (spec[f] === true) {
      p.add(
        joinPath('spec', f),
        `${f}: true is not supported yet (Tessera does not enforce host endpoint policy); remove it or set it to false`,
      );
    }
  }
}

export function validateTier(p: Problems, spec: Record<string, unknown>, name: string): void {
  checkOneOf(p, 'spec.defaultAction', spec.defaultAction, ['Deny', 'Pass'] as const);
  const builtin = builtinTier(name);
  if (builtin && spec.order !== undefined && spec.order !== null && spec.order !== builtin.spec?.order) {
    p.add('spec.order', `built-in tier ${quote(name)} has fixed order ${builtin.spec?.order}, got ${quote(spec.order)}`);
  }
}

export function validateProfile(p: Problems, spec: Record<string, unknown>): void {
  checkLabels(p, 'spec.labelsToApply', spec.labelsToApply);
  validateRules(p, spec, true);
}

export function validateNetworkSet(p: Problems, spec: Record<string, unknown>): void {
  if (!Array.isArray(spec.nets)) return;
  spec.nets.forEach((n, i) => checkCidrField(p, joinPath('spec.nets', i), n, { strict: false, allowBareIp: true }));
}
