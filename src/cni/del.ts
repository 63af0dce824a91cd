/**
 * CNI DEL: idempotent. A missing netns, link, endpoint or allocation is success. Releases by
 * handle; deletes the WorkloadEndpoint only when its containerID is this container's (a newer
 * sandbox of the same pod may own it already).
 */
import { isTesseraError } from '../lib/errors.js';
import type { CniDeps } from './deps.js';
import { deleteWepAt, getWep } from './store.js';
import type { CniRequest } from './types.js';
import { workloadOf } from './workload.js';
import { deleteLink } from './wiring.js';

export async function cmdDel(deps: CniDeps, req: CniRequest): Promise<void> {
  const w = workloadOf(req, deps.nodeName);
  const release = deps.ipam.releaseByHandle(w.handle, deps.signal);
  release.catch(() => undefined); // awaited below
  const cur = await getWep(deps.backend, w.wepNamespace, w.wepName, deps.signal);
  const owner = cur ? ((cur.wep.spec ?? {}) as { containerID?: unknown }).containerID : undefined;
  // The host veth name comes from <ns>.<pod>: when a newer sandbox of the pod owns the endpoint,
  // the veth is that sandbox's and must stay.
  const ownedByOther = cur !== undefined && owner !== req.containerId;
  const deleteOwnWep = async (): Promise<void> => {
    if (!cur || ownedByOther) return;
    try {
      await deleteWepAt(deps.backend, w.wepNamespace, w.wepName, cur.revision, deps.signal);
    } catch (e) {
      // Rewritten by a newer ADD between our read and delete: it is not ours any more.
      if (!isTesseraError(e, 'conflict')) throw e;
    }
  };
  await Promise.all([
    release,
    ownedByOther ? Promise.resolve() : deleteLink(w.hostIf, deps.signal, deps.ip),
    deleteOwnWep(),
  ]);
}
