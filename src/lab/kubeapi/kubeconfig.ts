/** The kubeconfig a lab writes for its stand-in API (pure text). */
import { stringify } from 'yaml';

export function renderKubeconfig(opts: { clusterName: string; server: string; namespace?: string }): string {
  const name = opts.clusterName;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server: opts.server } }],
    users: [{ name: `${name}-admin`, user: {} }],
    contexts: [{ name, context: { cluster: name, user: `${name}-admin`, namespace: opts.namespace ?? 'default' } }],
    'current-context': name,
    preferences: {},
  });
}
