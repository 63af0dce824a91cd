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
  const deleteOwnWep = async (): Promise<void> => {
    const cur = await getWep(deps.backend, w.wepNamespace, w.wepName, deps.signal);
    if (!cur) return;
    const spec = (cur.wep.spec ?? {}) as { containerID?: unknown };
    if (spec.containerID !== req.containerId) return;
    try {
      await deleteWepAt(deps.backend, w.wepNamespace, w.wepName, cur.revision, deps.signal);
    } catch (e) {
      // Rewritten by a newer ADD between our read and delete: it is not ours any more.
      if (!isTesseraError(e, 'conflict')) throw e;
    }
  };
  await Promise.all([
    deps.ipam.releaseByHandle(w.handle, deps.signal),
    deleteLink(w.hostIf, deps.signal),
    deleteOwnWep(),
  ]);
}
