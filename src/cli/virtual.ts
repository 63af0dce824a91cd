/**
 * Objects that exist for users without being stored, as in Calico: the built-in tiers (`default`,
 * `kube-admin`, `kube-baseline`) and the profiles derived from namespaces (`kns.<ns>`) and service
 * accounts (`ksa.<ns>.<sa>`), which endpoints name in `spec.profiles`. `get` shows them (a stored
 * object of the same name wins); they carry no resourceVersion.
 */
import { BUILTIN_TIERS, lookupKind, type KindInfo, type Resource } from '../api/index.js';
import type { CliStore } from './store.js';

const NS_PREFIX = 'pcns.';
const SA_PREFIX = 'pcsa.';
const NAME_LABEL = 'projectcalico.org/name';

function profile(name: string, labelsToApply: Record<string, string>, allow: boolean): Resource {
  const spec: Record<string, unknown> = { labelsToApply };
  // Kubernetes namespaces allow everything until a policy selects the pod.
  if (allow) Object.assign(spec, { ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] });
  return { apiVersion: 'projectcalico.org/v3', kind: 'Profile', metadata: { name }, spec } as Resource;
}

function prefixed(prefix: string, labels: Record<string, string> | undefined, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) out[prefix + k] = v;
  out[prefix + NAME_LABEL] = name;
  return out;
}

/** The virtual objects of a kind (none for most kinds). */
export async function virtualResources(info: KindInfo, store: CliStore): Promise<Resource[]> {
  if (info.kind === 'Tier' && info.apiVersion === 'projectcalico.org/v3') {
    return BUILTIN_TIERS.map((t) => structuredClone(t) as unknown as Resource);
  }
  if (info.kind === 'Profile' && info.apiVersion === 'projectcalico.org/v3') {
    const out: Resource[] = [];
    const nsInfo = lookupKind('namespace');
    const saInfo = lookupKind('serviceaccount');
    if (nsInfo) {
      for (const ns of await store.list(nsInfo)) {
        out.push(profile(`kns.${ns.metadata.name}`, prefixed(NS_PREFIX, ns.metadata.labels, ns.metadata.name), true));
      }
    }
    if (saInfo) {
      for (const sa of await store.list(saInfo, undefined)) {
        const ns = sa.metadata.namespace ?? 'default';
        out.push(
          profile(`ksa.${ns}.${sa.metadata.name}`, prefixed(SA_PREFIX, sa.metadata.labels, sa.metadata.name), false),
        );
      }
    }
    return out;
  }
  return [];
}

/** Stored objects plus the virtual ones no stored object shadows. */
export async function withVirtual(info: KindInfo, store: CliStore, stored: Resource[]): Promise<Resource[]> {
  const names = new Set(stored.map((r) => r.metadata.name));
  return [...stored, ...(await virtualResources(info, store)).filter((v) => !names.has(v.metadata.name))];
}
