/**
 * applyDefaults: the values Calico / Kubernetes document as defaults, filled in explicitly so every
 * consumer sees one shape. Pure: returns a deep copy, never mutates its input, and never throws on
 * invalid input (it only fills fields that are absent or null; validation reports the rest).
 */
import { checkCidr } from '../lib/ip.js';
import { kindFor } from './kinds.js';
import type { Resource } from './resource.js';
import { DEFAULT_TIER } from './tiers.js';
import { isRecord } from './validate/shape.js';

type Obj = Record<string, unknown>;
type Filler = (spec: Obj, r: Resource) => void;

const unset = (v: unknown) => v === undefined || v === null;

function fill(o: Obj, field: string, value: unknown): void {
  if (unset(o[field])) o[field] = value;
}

/** Calico's table: no rules or ingress only → [Ingress]; egress only → [Egress]; both → both. */
export function inferPolicyTypes(spec: { ingress?: unknown; egress?: unknown }): ('Ingress' | 'Egress')[] {
  const has = (v: unknown) => Array.isArray(v) && v.length > 0;
  const ingress = has(spec.ingress);
  const egress = has(spec.egress);
  if (egress && !ingress) return ['Egress'];
  if (egress && ingress) return ['Ingress', 'Egress'];
  return ['Ingress'];
}

function fillRules(spec: Obj): void {
  for (const dir of ['ingress', 'egress']) {
    const rules = spec[dir];
    if (!Array.isArray(rules)) continue;
    for (const rule of rules) {
      if (!isRecord(rule)) continue;
      // Calico stores numeric strings as numbers (numorstring.Protocol / Port unmarshal the same way).
      for (const f of ['protocol', 'notProtocol']) {
        if (typeof rule[f] === 'string' && /^\d+$/.test(rule[f])) rule[f] = Number(rule[f]);
      }
      for (const side of ['source', 'destination']) {
        const e = rule[side];
        if (!isRecord(e)) continue;
        for (const f of ['ports', 'notPorts']) {
          const ports = e[f];
          if (Array.isArray(ports)) e[f] = ports.map((p) => (typeof p === 'string' && /^\d+$/.test(p) ? Number(p) : p));
        }
      }
    }
  }
}

function fillPolicy(spec: Obj): void {
  fill(spec, 'tier', DEFAULT_TIER);
  fill(spec, 'selector', 'all()');
  if (unset(spec.types) || (Array.isArray(spec.types) && spec.types.length === 0)) spec.types = inferPolicyTypes(spec);
  fillRules(spec);
}

const C = 'projectcalico.org/v3/';
const FILLERS: Readonly<Record<string, Filler>> = {
  [`${C}IPPool`]: (spec) => {
    const family = typeof spec.cidr === 'string' ? checkCidr(spec.cidr).cidr?.family : undefined;
    if (family !== undefined) fill(spec, 'blockSize', family === 4 ? 26 : 122);
    fill(spec, 'ipipMode', 'Never');
    fill(spec, 'vxlanMode', 'Never');
    fill(spec, 'natOutgoing', false);
    fill(spec, 'disabled', false);
    fill(spec, 'disableBGPExport', false);
    fill(spec, 'nodeSelector', 'all()');
    fill(spec, 'allowedUses', ['Workload', 'Tunnel']);
    fill(spec, 'assignmentMode', 'Automatic');
  },
  [`${C}IPAMConfiguration`]: (spec) => {
    fill(spec, 'strictAffinity', false);
    fill(spec, 'autoAllocateBlocks', true);
  },
  [`${C}BGPConfiguration`]: (spec, r) => {
    fill(spec, 'logSeverityScreen', 'Info');
    // The cluster-wide settings only mean something on the global `default` resource.
    if (r.metadata?.name === 'default') {
      fill(spec, 'nodeToNodeMeshEnabled', true);
      fill(spec, 'asNumber', 64512);
    }
  },
  [`${C}BGPPeer`]: () => undefined,
  [`${C}KubeControllersConfiguration`]: (spec) => {
    fill(spec, 'logSeverityScreen', 'Info');
    fill(spec, 'healthChecks', 'Enabled');
    // Go's JSON decoding matches field names case-insensitively, so Calico takes the spelling in its
    // own docs (`etcdv3CompactionPeriod`) for its field `etcdV3CompactionPeriod`. Store one name.
    if (!unset(spec.etcdv3CompactionPeriod)) {
      fill(spec, 'etcdV3CompactionPeriod', spec.etcdv3CompactionPeriod);
    }
    delete spec.etcdv3CompactionPeriod;
    fill(spec, 'etcdV3CompactionPeriod', '10m');
    fill(spec, 'prometheusMetricsPort', 9094);
  },
  [`${C}NetworkPolicy`]: fillPolicy,
  [`${C}GlobalNetworkPolicy`]: fillPolicy,
  [`${C}Profile`]: (spec) => fillRules(spec),
  [`${C}Tier`]: (spec) => fill(spec, 'defaultAction', 'Deny'),
  'v1/Pod': (spec) => {
    if (!Array.isArray(spec.containers)) return;
    for (const c of spec.containers) {
      if (!isRecord(c) || !Array.isArray(c.ports)) continue;
      for (const p of c.ports) if (isRecord(p)) fill(p, 'protocol', 'TCP');
    }
  },
  'networking.k8s.io/v1/NetworkPolicy': (spec) => {
    if (unset(spec.policyTypes) || (Array.isArray(spec.policyTypes) && spec.policyTypes.length === 0)) {
      spec.policyTypes = Array.isArray(spec.egress) && spec.egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
    }
    fill(spec, 'podSelector', {});
    for (const dir of ['ingress', 'egress']) {
      const rules = spec[dir];
      if (!Array.isArray(rules)) continue;
      for (const rule of rules) {
        if (!isRecord(rule) || !Array.isArray(rule.ports)) continue;
        for (const p of rule.ports) if (isRecord(p)) fill(p, 'protocol', 'TCP');
      }
    }
  },
};

/** Fills documented defaults; returns a deep copy. */
export function applyDefaults<R extends Resource>(r: R): R {
  const copy = structuredClone(r) as R & Obj;
  if (!isRecord(copy) || typeof copy.apiVersion !== 'string' || typeof copy.kind !== 'string') return copy;
  const info = kindFor(copy.apiVersion, copy.kind);
  if (!info) return copy;
  if (!isRecord(copy.metadata)) return copy;
  if (info.namespaced && unset(copy.metadata.namespace)) copy.metadata.namespace = 'default';
  if (info.kind === 'Namespace' && info.group === 'core' && typeof copy.metadata.name === 'string') {
    copy.metadata.labels = { ...(copy.metadata.labels ?? {}), 'kubernetes.io/metadata.name': copy.metadata.name };
  }
  const filler = FILLERS[`${info.apiVersion}/${info.kind}`];
  if (!filler) return copy;
  if (unset(copy.spec)) (copy as Obj).spec = {};
  if (!isRecord(copy.spec)) return copy;
  filler(copy.spec, copy);
  return copy;
}
