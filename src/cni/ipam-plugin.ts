/**
 * `tessera-ipam`: the IPAM plugin any CNI plugin can name in its `ipam` section.
 * ADD returns `<ip>/<block prefix>` with gateway 169.254.1.1 (IPv4) / fe80::1 (IPv6) and default
 * routes: a gateway that is never a pod address, and a prefix wider than /32 because plugins such
 * as `ptp` replace the connected route of the address's subnet and fail on a /32.
 */
import type { CniDeps } from './deps.js';
import { CNI_ERR, cniFailure } from './errors.js';
import { handleId } from './naming.js';
import { assignAddresses, checkPoolsExist } from './add.js';
import type { CniRequest, CniResult } from './types.js';
import { parsePrevResult } from './version.js';
import { GATEWAY_V4 } from './wiring-render.js';

export const IPAM_GATEWAY_V6 = 'fe80::1';

function ipamNode(req: CniRequest, dflt: string): string {
  return req.conf.nodename || req.conf.ipam?.nodename || dflt;
}

function podOf(req: CniRequest): { namespace: string; name: string } | undefined {
  const ns = req.args['K8S_POD_NAMESPACE'];
  const name = req.args['K8S_POD_NAME'];
  return ns && name ? { namespace: ns, name } : undefined;
}

export async function ipamAdd(deps: CniDeps, req: CniRequest): Promise<CniResult> {
  await checkPoolsExist(deps, req);
  const handle = handleId(req.conf.name, req.containerId);
  const ips = await assignAddresses(deps, req, ipamNode(req, deps.nodeName), handle, podOf(req));
  const routes: { dst: string }[] = [];
  if (ips.some((i) => i.family === 4)) routes.push({ dst: '0.0.0.0/0' });
  if (ips.some((i) => i.family === 6)) routes.push({ dst: '::/0' });
  return {
    ips: ips.map((i) => ({ address: `${i.address}/${i.prefixLength}`, gateway: i.family === 4 ? GATEWAY_V4 : IPAM_GATEWAY_V6 })),
    routes,
  };
}

export async function ipamDel(deps: CniDeps, req: CniRequest): Promise<void> {
  await deps.ipam.releaseByHandle(handleId(req.conf.name, req.containerId), deps.signal);
}

export async function ipamCheck(deps: CniDeps, req: CniRequest): Promise<void> {
  const prev = parsePrevResult(req.conf.prevResult);
  if (!prev) throw cniFailure('validation', CNI_ERR.invalidConfig, 'invalid network config: CHECK needs a valid "prevResult"');
  const handle = handleId(req.conf.name, req.containerId);
  const held = new Set((await deps.ipam.ipsByHandle(handle, deps.signal)).map((i) => i.address));
  for (const ip of prev.ips) {
    const a = ip.address.split('/')[0] ?? '';
    if (!held.has(a)) throw cniFailure('validation', CNI_ERR.checkFailed, `check failed: "${a}" is not held by IPAM handle "${handle}"`);
  }
}
