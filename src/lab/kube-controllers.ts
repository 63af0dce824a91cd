/**
 * `lab up` runs one tessera-kube-controllers in the root netns beside the stand-in Kubernetes API
 * (it reaches the API on 127.0.0.1 and etcd on the lab's unix sockets), as a cluster runs its
 * kube-controllers Deployment. With it running, the lab stops writing v1 Namespaces and Pods into
 * the datastore itself: the controllers mirror them from the API.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon } from './kernel.js';
import { binPath } from './nodes.js';
import type { ProcessRecord } from './state.js';

export function kubeControllersBinary(): string | undefined {
  const p = binPath('tessera-kube-controllers');
  return existsSync(p) ? p : undefined;
}

export function startKubeControllers(
  dir: string,
  labName: string,
  etcdEndpoints: readonly string[],
  kubeconfig: string,
): ProcessRecord | undefined {
  const bin = kubeControllersBinary();
  if (!bin) return undefined;
  return startDaemon(
    'kube-controllers',
    [
      bin,
      '--etcd-endpoints',
      etcdEndpoints.join(','),
      '--kubeconfig',
      kubeconfig,
      '--health-listen',
      '127.0.0.1:0',
      '--identity',
      `lab-${labName}`,
    ],
    { log: join(dir, 'logs', 'kube-controllers.log') },
  );
}
