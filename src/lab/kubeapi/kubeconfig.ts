/**
 * The kubeconfig a lab writes for its stand-in API (pure text). The API is plain HTTP on
 * loopback; `insecure-skip-tls-verify` has no effect on http for kubectl, but
 * @kubernetes/client-node (1.x) refuses an http server without it.
 */
import { stringify } from 'yaml';

export function renderKubeconfig(opts: { clusterName: string; server: string; namespace?: string }): string {
  const name = opts.clusterName;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster: { server: opts.server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: `${name}-admin`, user: {} }],
    contexts: [{ name, context: { cluster: name, user: `${name}-admin`, namespace: opts.namespace ?? 'default' } }],
    'current-context': name,
    preferences: {},
  });
}
