/**
 * CNI GC (1.1): releases this network's allocations whose attachment is not among
 * `cni.dev/valid-attachments`. STATUS: the plugin is ready when the datastore answers.
 */
import type { CniDeps } from './deps.js';
import { CNI_ERR, cniFailure } from './errors.js';
import { handleId } from './naming.js';
import { listHandleIds } from './store.js';
import type { CniRequest } from './types.js';

export async function cmdGc(deps: CniDeps, req: CniRequest): Promise<string[]> {
  const raw = req.conf['cni.dev/valid-attachments'] ?? [];
  if (!Array.isArray(raw))
    throw cniFailure(
      'validation',
      CNI_ERR.invalidConfig,
      'invalid network config: "cni.dev/valid-attachments" is not a list',
    );
  const valid = new Set(raw.map((a) => handleId(req.conf.name, String(a.containerID))));
  const prefix = `${req.conf.name}.`;
  const stale = (await listHandleIds(deps.backend, deps.signal)).filter((h) => h.startsWith(prefix) && !valid.has(h));
  for (const h of stale) await deps.ipam.releaseByHandle(h, deps.signal);
  return stale;
}

export async function cmdStatus(deps: CniDeps): Promise<void> {
  try {
    await deps.backend.revision(deps.signal);
  } catch (e) {
    throw cniFailure('unavailable', CNI_ERR.pluginNotAvailable, 'datastore is not reachable', { cause: e });
  }
}
