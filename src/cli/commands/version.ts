/**
 * `tessera version`: the client version (package.json) and, when a datastore is configured and
 * answers within a few seconds, what the cluster publishes in ClusterInformation "default".
 * Never fails because the cluster is unreachable: that is reported, exit 0.
 */
import { describeError, TesseraError } from '../../lib/errors.js';
import { lookupKind } from '../../api/index.js';
import type { VerbDeps } from '../io.js';
import { packageInfo } from '../package-root.js';

export const CLUSTER_INFO_TIMEOUT_MS = 3000;

export function clientVersion(): string {
  return packageInfo()?.version ?? 'unknown';
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TesseraError('timeout', `no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export async function versionVerb(_args: Record<string, never>, deps: VerbDeps): Promise<number> {
  const lines: [string, string][] = [['Client Version:', `v${clientVersion()}`]];
  try {
    const info = lookupKind('clusterinformation');
    if (!info) throw new TesseraError('bug', 'kind ClusterInformation is not registered');
    const ci = await withTimeout(
      deps.store().then((s) => s.get({ info, name: 'default' })),
      CLUSTER_INFO_TIMEOUT_MS,
    );
    const spec = (ci?.spec ?? {}) as Record<string, unknown>;
    const str = (k: string) => (typeof spec[k] === 'string' && spec[k] !== '' ? (spec[k] as string) : undefined);
    lines.push(['Cluster Version:', str('calicoVersion') ?? str('version') ?? 'unknown']);
    lines.push(['Cluster Type:', str('clusterType') ?? 'unknown']);
    if (ci === undefined) lines.push(['Cluster Info:', 'datastore reachable; no ClusterInformation "default" yet']);
  } catch (err) {
    lines.push(['Cluster Version:', `unavailable (${describeError(err)})`]);
  }
  const w = Math.max(...lines.map(([k]) => k.length)) + 1;
  deps.io.out(lines.map(([k, v]) => `${k.padEnd(w)}${v}\n`).join(''));
  return 0;
}
