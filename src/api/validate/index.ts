/**
 * validateResource: one Problem per issue, paths in the manifest's own field names.
 * Order: envelope (apiVersion/kind) → strict shape of metadata/spec/status → per-kind semantics.
 */
import type { Problem } from '../../lib/errors.js';
import type { KindInfo } from '../kind-info.js';
import { KINDS, kindFor } from '../kinds.js';
import { checkAnnotations, checkDnsLabel, checkLabels, checkSubdomain, Problems } from './common.js';
import { validateBGPConfiguration, validateBGPFilter, validateBGPPeer } from './bgp.js';
import {
  validateClusterInformation,
  validateFelixConfiguration,
  validateKubeControllersConfiguration,
} from './config.js';
import { validateCalicoNodeStatus, validateHostEndpoint, validateNode, validateWorkloadEndpoint } from './endpoints.js';
import { validateIPAMConfiguration, validateIPPool, validateIPReservation } from './ipam.js';
import { validateK8sNetworkPolicy, validateNamespace, validatePod } from './k8s.js';
import {
  validateGlobalNetworkPolicy,
  validateNetworkPolicy,
  validateNetworkSet,
  validateProfile,
  validateTier,
} from './policy.js';
import { METADATA, SCHEMAS } from './schemas.js';
import { checkShape, isRecord, joinPath, quote } from './shape.js';

type SpecValidator = (
  p: Problems,
  spec: Record<string, unknown>,
  name: string,
  status: unknown,
  metadata: Record<string, unknown>,
) => void;

const C = 'projectcalico.org/v3/';
const VALIDATORS: Readonly<Record<string, SpecValidator>> = {
  [`${C}IPPool`]: (p, s) => validateIPPool(p, s),
  [`${C}IPReservation`]: (p, s) => validateIPReservation(p, s),
  [`${C}IPAMConfiguration`]: validateIPAMConfiguration,
  [`${C}BGPConfiguration`]: validateBGPConfiguration,
  [`${C}BGPPeer`]: (p, s) => validateBGPPeer(p, s),
  [`${C}BGPFilter`]: (p, s) => validateBGPFilter(p, s),
  [`${C}FelixConfiguration`]: validateFelixConfiguration,
  [`${C}KubeControllersConfiguration`]: validateKubeControllersConfiguration,
  [`${C}ClusterInformation`]: validateClusterInformation,
  [`${C}Node`]: (p, s) => validateNode(p, s),
  [`${C}CalicoNodeStatus`]: (p, s) => validateCalicoNodeStatus(p, s),
  [`${C}HostEndpoint`]: (p, s) => validateHostEndpoint(p, s),
  [`${C}WorkloadEndpoint`]: (p, s) => validateWorkloadEndpoint(p, s),
  [`${C}NetworkPolicy`]: validateNetworkPolicy,
  [`${C}GlobalNetworkPolicy`]: validateGlobalNetworkPolicy,
  [`${C}NetworkSet`]: (p, s, _n, _st, md) => validateNetworkSet(p, s, md.labels),
  [`${C}GlobalNetworkSet`]: (p, s, _n, _st, md) => validateNetworkSet(p, s, md.labels),
  [`${C}Profile`]: (p, s) => validateProfile(p, s),
  [`${C}Tier`]: validateTier,
  'v1/Namespace': validateNamespace,
  'v1/Pod': (p, s, _n, status) => validatePod(p, s, status),
  'v1/ServiceAccount': () => undefined,
  'networking.k8s.io/v1/NetworkPolicy': (p, s) => validateK8sNetworkPolicy(p, s),
};

/** Tier and Namespace names are DNS labels (tier names prefix policy names); the rest subdomains. */
const LABEL_NAMED = new Set(['Tier', 'Namespace']);

function resolveKind(p: Problems, r: Record<string, unknown>): KindInfo | undefined {
  const { apiVersion, kind } = r;
  if (typeof kind !== 'string' || kind === '') {
    p.add('kind', 'kind is required');
    return undefined;
  }
  if (typeof apiVersion !== 'string' || apiVersion === '') {
    p.add('apiVersion', 'apiVersion is required');
    return undefined;
  }
  const info = kindFor(apiVersion, kind);
  if (info) return info;
  const elsewhere = KINDS.filter((k) => k.kind === kind).map((k) => JSON.stringify(k.apiVersion));
  p.add(
    'kind',
    elsewhere.length > 0
      ? `kind ${quote(kind)} is not served by apiVersion ${quote(apiVersion)} (use ${elsewhere.join(' or ')})`
      : `unknown kind ${quote(kind)} (apiVersion ${quote(apiVersion)})`,
  );
  return undefined;
}

function validateMetadata(p: Problems, info: KindInfo, md: unknown): string {
  if (!isRecord(md)) {
    p.add('metadata', md === undefined ? 'metadata is required' : 'metadata must be an object');
    return '';
  }
  checkShape(md, METADATA, 'metadata', p.list);
  const name = md.name;
  if (name === undefined || name === null || name === '') p.add('metadata.name', 'name is required');
  else if (LABEL_NAMED.has(info.kind)) checkDnsLabel(p, 'metadata.name', name);
  else checkSubdomain(p, 'metadata.name', name);
  const ns = md.namespace;
  if (info.namespaced) {
    if (typeof ns === 'string' && ns !== '') checkDnsLabel(p, 'metadata.namespace', ns, 'namespace');
  } else if (typeof ns === 'string' && ns !== '') {
    p.add('metadata.namespace', `${info.kind} is cluster-scoped; remove namespace ${quote(ns)}`);
  }
  checkLabels(p, 'metadata.labels', md.labels);
  checkAnnotations(p, 'metadata.annotations', md.annotations);
  return typeof name === 'string' ? name : '';
}

/** Validates one resource on its own. Cross-document rules are in validateBatch. */
export function validateResource(r: unknown): Problem[] {
  const p = new Problems();
  if (!isRecord(r)) {
    p.add('', `a resource must be an object, got ${quote(r)}`);
    return p.list;
  }
  const info = resolveKind(p, r);
  if (!info) return p.list;
  const key = `${info.apiVersion}/${info.kind}`;
  const schema = SCHEMAS[key] ?? {};
  const extra = schema.extra ?? {};
  for (const field of Object.keys(r)) {
    const known =
      field === 'apiVersion' ||
      field === 'kind' ||
      field === 'metadata' ||
      (field === 'spec' && schema.spec !== undefined) ||
      (field === 'status' && schema.status !== undefined) ||
      field in extra;
    if (!known) p.add(joinPath('', field), `unknown field ${JSON.stringify(field)}`);
  }
  const name = validateMetadata(p, info, r.metadata);
  if (schema.spec !== undefined && r.spec !== undefined && r.spec !== null)
    checkShape(r.spec, schema.spec, 'spec', p.list);
  if (schema.status !== undefined && r.status !== undefined && r.status !== null) {
    checkShape(r.status, schema.status, 'status', p.list);
  }
  for (const [field, shape] of Object.entries(extra)) {
    if (r[field] !== undefined && r[field] !== null) checkShape(r[field], shape, field, p.list);
  }
  const validator = VALIDATORS[key];
  if (validator) validator(p, isRecord(r.spec) ? r.spec : {}, name, r.status, isRecord(r.metadata) ? r.metadata : {});
  return p.list;
}
