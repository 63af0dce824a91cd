/**
 * `tessera-ipam`: the IPAM plugin any CNI plugin can name in its `ipam` section.
 * ADD returns `<ip>/<block prefix>` with the block's first address as gateway and default routes:
 * plugins such as `ptp` replace the connected route of the address's subnet (so a /32 fails) and
 * add the default route before their own gateway route (so the gateway must be inside the
 * subnet). The gateway address is therefore never given to a pod of this plugin.
 */
import type { CniDeps } from './deps.js';
import { CNI_ERR, cniFailure } from './errors.js';
import { handleId } from './naming.js';
import { assignAddresses, checkPoolsExist } from './add.js';
import type { CniRequest, CniResult } from './types.js';
import { parsePrevResult } from './version.js';
import type { AssignedIp } from '../ipam/index.js';
import { cidrFirst, formatIp, parseCidr } from '../lib/ip.js';

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
  const node = ipamNode(req, deps.nodeName);
  const pod = podOf(req);
  let ips = await assignAddresses(deps, req, node, handle, pod);
  // The block's first address is every pod's gateway here, so it cannot be a pod's address: when
  // IPAM hands it out, the handle keeps it (DEL frees both) and the pod gets the next one.
  for (const family of [4, 6] as const) {
    const usable = ips.filter((i) => i.family === family && !isBlockGateway(i));
    if (usable.length > 0 || !ips.some((i) => i.family === family)) continue;
    const more = await deps.ipam.autoAssign({
      num4: family === 4 ? 1 : 0,
      num6: family === 6 ? 1 : 0,
      handleId: handle,
      hostname: node,
      attrs: { node, ...(pod ? { namespace: pod.namespace, pod: pod.name } : {}), timestamp: deps.clock.nowIso() },
      ...(req.conf.ipam?.ipv4_pools ? { ipv4Pools: req.conf.ipam.ipv4_pools } : {}),
      ...(req.conf.ipam?.ipv6_pools ? { ipv6Pools: req.conf.ipam.ipv6_pools } : {}),
    });
    ips = [...ips, ...more.ipv4, ...more.ipv6];
  }
  const chosen = [4, 6].flatMap((f) => ips.filter((i) => i.family === f && !isBlockGateway(i)).slice(0, 1));
  if (chosen.length === 0) {
    await deps.ipam.releaseByHandle(handle).catch(() => undefined);
    throw cniFailure('exhausted', CNI_ERR.exhausted, `cannot assign an address to "${handle}": no usable address`);
  }
  const routes: { dst: string }[] = [];
  if (chosen.some((i) => i.family === 4)) routes.push({ dst: '0.0.0.0/0' });
  if (chosen.some((i) => i.family === 6)) routes.push({ dst: '::/0' });
  return {
    ips: chosen.map((i) => ({ address: `${i.address}/${i.prefixLength}`, gateway: blockGateway(i) })),
    routes,
  };
}

const blockGateway = (i: AssignedIp): string => formatIp(i.family, cidrFirst(parseCidr(i.blockCidr)));
const isBlockGateway = (i: AssignedIp): boolean => i.address === blockGateway(i);

export async function ipamDel(deps: CniDeps, req: CniRequest): Promise<void> {
  await deps.ipam.releaseByHandle(handleId(req.conf.name, req.containerId), deps.signal);
}

export async function ipamCheck(deps: CniDeps, req: CniRequest): Promise<void> {
  const prev = parsePrevResult(req.conf.prevResult);
  if (!prev)
    throw cniFailure('validation', CNI_ERR.invalidConfig, 'invalid network config: CHECK needs a valid "prevResult"');
  const handle = handleId(req.conf.name, req.containerId);
  const held = new Set((await deps.ipam.ipsByHandle(handle, deps.signal)).map((i) => i.address));
  for (const ip of prev.ips) {
    const a = ip.address.split('/')[0] ?? '';
    if (!held.has(a))
      throw cniFailure(
        'validation',
        CNI_ERR.checkFailed,
        `check failed: "${a}" is not held by IPAM handle "${handle}"`,
      );
  }
}
