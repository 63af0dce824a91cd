/**
 * CNI CHECK: verifies the kernel (host veth, pod interface, addresses, routes) and the datastore
 * (allocation held by the handle, WorkloadEndpoint) against prevResult. Any mismatch is an error.
 */
import type { CniDeps } from './deps.js';
import { CNI_ERR, cniFailure } from './errors.js';
import { getWep } from './store.js';
import type { CniRequest } from './types.js';
import { parsePrevResult } from './version.js';
import { workloadOf } from './workload.js';
import { GATEWAY_V4, HOST_VETH_LINK_LOCAL, TESSERA_ROUTE_PROTO } from './wiring-render.js';
import { linkExists, pathExists, resolveNetns, showLink, showRoutes } from './wiring.js';

const fail = (msg: string) => cniFailure('validation', CNI_ERR.checkFailed, `check failed: ${msg}`);
const plain = (cidr: string): string => cidr.split('/')[0] ?? cidr;
const sameSet = (a: string[], b: string[]): boolean =>
  a.length === b.length && [...a].sort().join() === [...b].sort().join();

export async function cmdCheck(deps: CniDeps, req: CniRequest): Promise<void> {
  const prev = parsePrevResult(req.conf.prevResult);
  if (!prev)
    throw cniFailure('validation', CNI_ERR.invalidConfig, 'invalid network config: CHECK needs a valid "prevResult"');
  const w = workloadOf(req, deps.nodeName);
  const want = prev.ips.map((i) => plain(i.address));
  if (!(await pathExists(req.netns))) throw fail(`netns "${req.netns}" does not exist`);
  if (!(await linkExists(w.hostIf))) throw fail(`host interface "${w.hostIf}" does not exist`);

  const [held, wep] = await Promise.all([
    deps.ipam.ipsByHandle(w.handle, deps.signal),
    getWep(deps.backend, w.wepNamespace, w.wepName, deps.signal),
  ]);
  if (
    !sameSet(
      held.map((i) => i.address),
      want,
    )
  ) {
    throw fail(
      `IPAM handle "${w.handle}" holds [${held.map((i) => i.address).join(', ')}], prevResult has [${want.join(', ')}]`,
    );
  }
  if (!wep) throw fail(`WorkloadEndpoint "${w.wepNamespace}/${w.wepName}" does not exist`);
  const spec = (wep.wep.spec ?? {}) as { containerID?: unknown; ipNetworks?: unknown };
  if (spec.containerID !== req.containerId)
    throw fail(`WorkloadEndpoint "${w.wepName}" belongs to container "${String(spec.containerID)}"`);
  const nets = Array.isArray(spec.ipNetworks) ? (spec.ipNetworks as string[]).map(plain) : [];
  if (!sameSet(nets, want)) throw fail(`WorkloadEndpoint "${w.wepName}" has addresses [${nets.join(', ')}]`);

  const netns = await resolveNetns(req.netns, w.hostIf);
  try {
    const v4 = want.filter((a) => !a.includes(':'));
    const v6 = want.filter((a) => a.includes(':'));
    const [podLink, podRoutes4, podRoutes6, hostRoutes4, hostRoutes6] = await Promise.all([
      showLink(req.ifName, netns.name),
      v4.length ? showRoutes(4, netns.name) : Promise.resolve([]),
      v6.length ? showRoutes(6, netns.name) : Promise.resolve([]),
      v4.length ? showRoutes(4) : Promise.resolve([]),
      v6.length ? showRoutes(6) : Promise.resolve([]),
    ]);
    if (!podLink) throw fail(`interface "${req.ifName}" does not exist in netns "${req.netns}"`);
    const mac = prev.interfaces?.find((i) => i.name === req.ifName && i.sandbox)?.mac;
    if (mac && podLink.address?.toLowerCase() !== mac.toLowerCase())
      throw fail(`"${req.ifName}" has MAC "${podLink.address}", prevResult "${mac}"`);
    const local = (podLink.addr_info ?? []).filter((a) => !a.local.startsWith('fe80:')).map((a) => a.local);
    for (const a of want) if (!local.includes(a)) throw fail(`"${req.ifName}" lacks address "${a}"`);
    if (v4.length && !podRoutes4.some((r) => r.dst === 'default' && r.gateway === GATEWAY_V4))
      throw fail(`no default route via ${GATEWAY_V4} in the pod`);
    if (v6.length && !podRoutes6.some((r) => r.dst === 'default' && r.gateway === HOST_VETH_LINK_LOCAL))
      throw fail(`no IPv6 default route via ${HOST_VETH_LINK_LOCAL} in the pod`);
    const hostRoutes = [...hostRoutes4, ...hostRoutes6];
    for (const a of want) {
      const r = hostRoutes.find((x) => x.dst === a || x.dst === `${a}/32` || x.dst === `${a}/128`);
      if (!r || r.dev !== w.hostIf) throw fail(`host has no route "${a}" via "${w.hostIf}"`);
      if (r.protocol !== String(TESSERA_ROUTE_PROTO) && r.protocol !== 'tessera')
        throw fail(`host route "${a}" has protocol "${r.protocol}", not Tessera's`);
    }
  } finally {
    await netns.release();
  }
}
