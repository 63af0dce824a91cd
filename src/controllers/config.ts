/**
 * The controllers' configuration: the KubeControllersConfiguration named `default`, with Calico's
 * defaults. As in Calico, a missing `default` is created with the defaults, and a controller whose
 * section is absent from `spec.controllers` is off.
 */
import {
  CALICO_API_VERSION,
  kindFor,
  validateResource,
  type KubeControllersConfigurationSpec,
  type Resource,
} from '../api/index.js';
import type { Backend } from '../datastore/index.js';
import { ResourceStore } from '../datastore/index.js';
import { TesseraError, validationError } from '../lib/errors.js';

export const KCC_INFO = kindFor(CALICO_API_VERSION, 'KubeControllersConfiguration')!;

export interface ControllersConfig {
  namespace?: { reconcilerPeriodMs: number };
  serviceAccount?: { reconcilerPeriodMs: number };
  workloadEndpoint?: { reconcilerPeriodMs: number };
  policy?: { reconcilerPeriodMs: number };
  node?: { reconcilerPeriodMs: number; syncLabels: boolean; autoHostEndpoints: boolean; leakGracePeriodMs: number };
  healthChecks: boolean;
  prometheusMetricsPort: number;
}

/** Calico's defaults for a freshly created `default` (kube-controllers' own). */
export function defaultKubeControllersConfiguration(): Resource<KubeControllersConfigurationSpec> {
  return {
    apiVersion: CALICO_API_VERSION,
    kind: 'KubeControllersConfiguration',
    metadata: { name: 'default' },
    spec: {
      logSeverityScreen: 'Info',
      healthChecks: 'Enabled',
      etcdV3CompactionPeriod: '10m',
      prometheusMetricsPort: 9094,
      controllers: {
        node: {
          reconcilerPeriod: '5m',
          syncLabels: 'Enabled',
          hostEndpoint: { autoCreate: 'Disabled' },
          leakGracePeriod: '15m',
        },
        policy: { reconcilerPeriod: '5m' },
        workloadEndpoint: { reconcilerPeriod: '5m' },
        serviceAccount: { reconcilerPeriod: '5m' },
        namespace: { reconcilerPeriod: '5m' },
      },
    },
  };
}

/** Go duration (`15m`, `1h30m`, `500ms`, `0`) in milliseconds. */
export function parseDurationMs(s: string, field: string): number {
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * unit[m[2]!]!;
    end = re.lastIndex;
  }
  if (s === '' || end !== s.length)
    throw new TesseraError('validation', `${field}: cannot parse duration "${s}" (e.g. "15m", "1h30m", "30s")`);
  return total;
}

export function resolveConfig(spec: KubeControllersConfigurationSpec): ControllersConfig {
  const c = spec.controllers ?? {};
  const period = (s: { reconcilerPeriod?: string } | undefined, at: string) =>
    parseDurationMs(s?.reconcilerPeriod ?? '5m', `spec.controllers.${at}.reconcilerPeriod`);
  const out: ControllersConfig = {
    healthChecks: spec.healthChecks !== 'Disabled',
    prometheusMetricsPort: spec.prometheusMetricsPort ?? 9094,
  };
  if (c.namespace) out.namespace = { reconcilerPeriodMs: period(c.namespace, 'namespace') };
  if (c.serviceAccount) out.serviceAccount = { reconcilerPeriodMs: period(c.serviceAccount, 'serviceAccount') };
  if (c.workloadEndpoint) out.workloadEndpoint = { reconcilerPeriodMs: period(c.workloadEndpoint, 'workloadEndpoint') };
  if (c.policy) out.policy = { reconcilerPeriodMs: period(c.policy, 'policy') };
  if (c.node) {
    out.node = {
      reconcilerPeriodMs: period(c.node, 'node'),
      syncLabels: c.node.syncLabels !== 'Disabled',
      autoHostEndpoints: c.node.hostEndpoint?.autoCreate === 'Enabled',
      leakGracePeriodMs: parseDurationMs(c.node.leakGracePeriod ?? '15m', 'spec.controllers.node.leakGracePeriod'),
    };
  }
  return out;
}

/** Reads `default` (creating it with Calico's defaults when missing) and resolves it. */
export async function loadConfig(
  backend: Backend,
  signal?: AbortSignal,
): Promise<{ config: ControllersConfig; resource: Resource }> {
  const store = new ResourceStore(backend);
  let r = await store.get(KCC_INFO, 'default', undefined, signal);
  if (!r) {
    try {
      r = await store.create(defaultKubeControllersConfiguration() as unknown as Resource, signal);
    } catch (err) {
      if (!(err instanceof TesseraError && err.code === 'already-exists')) throw err;
      r = (await store.get(KCC_INFO, 'default', undefined, signal))!;
    }
  }
  const problems = validateResource(r);
  if (problems.length > 0) throw validationError('cannot use KubeControllersConfiguration "default"', problems);
  return { config: resolveConfig((r.spec ?? {}) as KubeControllersConfigurationSpec), resource: r };
}
