/**
 * CNI ADD: [pod-side `ip` start ‖ reads (pod, MTU, pools) → (host veth ‖ assign, or reuse what the
 * handle holds)] → [host routes ‖ pod-side script ‖ sysctls ‖ WEP write].
 * Every side effect registers one undo step; one catch unwinds all of them, the address included.
 */
import { readFile } from 'node:fs/promises';
import { cidrContainsIp, parseCidr, parseIp } from '../lib/ip.js';
import type { AssignedIp } from '../ipam/index.js';
import type { CniDeps } from './deps.js';
import { CNI_ERR, cniFailure } from './errors.js';
import { deleteWepAt, getPod, listPools, putWep } from './store.js';
import type { CniRequest, CniResult } from './types.js';
import { UndoStack } from './undo.js';
import { buildWorkloadEndpoint, podInfoFrom, type PodInfo } from './wep.js';
import { familiesWanted, workloadOf } from './workload.js';
import { GATEWAY_V4, HOST_VETH_LINK_LOCAL, HOST_VETH_MAC, type PodWiring } from './wiring-render.js';
import { createHostLink, deleteLink, linkExists, pathExists, resolveNetns, wirePod } from './wiring.js';
import { directIpRunner, type NetnsBatch } from './ip-runner.js';

export const DEFAULT_MTU = 1500;

export async function readMtu(req: CniRequest): Promise<number> {
  if (req.conf.mtu) return req.conf.mtu;
  if (!req.conf.mtu_file) return DEFAULT_MTU;
  try {
    const n = Number.parseInt((await readFile(req.conf.mtu_file, 'utf8')).trim(), 10);
    return Number.isInteger(n) && n >= 576 && n <= 65535 ? n : DEFAULT_MTU;
  } catch {
    return DEFAULT_MTU; // the agent has not written it yet: the safe default
  }
}

/** Every configured pool (name or CIDR) must exist, or the config is invalid (code 7). */
export async function checkPoolsExist(deps: CniDeps, req: CniRequest): Promise<void> {
  const wanted = [...(req.conf.ipam?.ipv4_pools ?? []), ...(req.conf.ipam?.ipv6_pools ?? [])];
  if (wanted.length === 0) return;
  const pools = await listPools(deps.backend, deps.signal);
  for (const w of wanted) {
    if (!pools.some((p) => p.name === w || p.cidr === w)) {
      throw cniFailure('not-found', CNI_ERR.invalidConfig, `cannot use IP pool "${w}": no such pool`);
    }
  }
}

export async function lookupPod(
  deps: CniDeps,
  pod: { namespace: string; name: string } | undefined,
): Promise<PodInfo | undefined> {
  if (!pod) return undefined;
  const r = await getPod(deps.backend, pod.namespace, pod.name, deps.signal);
  if (!r) {
    throw cniFailure(
      'not-found',
      CNI_ERR.tryAgainLater,
      `pod "${pod.namespace}/${pod.name}" is not in the datastore yet; try again later`,
    );
  }
  return podInfoFrom(r, pod.namespace, pod.name);
}

export async function assignAddresses(
  deps: CniDeps,
  req: CniRequest,
  node: string,
  handle: string,
  pod?: { namespace: string; name: string },
): Promise<AssignedIp[]> {
  const fam = familiesWanted(req);
  if (!fam.v4 && !fam.v6)
    throw cniFailure(
      'validation',
      CNI_ERR.invalidConfig,
      'invalid network config: both assign_ipv4 and assign_ipv6 are false',
    );
  const ipam = req.conf.ipam!;
  const res = await deps.ipam.autoAssign({
    // A retried ADD (runtime retry, or after a crash) reuses what the handle already holds.
    reuseHandle: true,
    num4: fam.v4 ? 1 : 0,
    num6: fam.v6 ? 1 : 0,
    handleId: handle,
    hostname: node,
    attrs: { node, ...(pod ? { namespace: pod.namespace, pod: pod.name } : {}), timestamp: deps.clock.nowIso() },
    ...(ipam.ipv4_pools ? { ipv4Pools: ipam.ipv4_pools } : {}),
    ...(ipam.ipv6_pools ? { ipv6Pools: ipam.ipv6_pools } : {}),
    ...(deps.signal ? { signal: deps.signal } : {}),
  });
  const got = [...res.ipv4, ...res.ipv6];
  if ((fam.v4 && res.ipv4.length === 0) || (fam.v6 && res.ipv6.length === 0)) {
    await deps.ipam.releaseByHandle(handle, deps.signal).catch(() => undefined);
    throw cniFailure(
      'exhausted',
      CNI_ERR.exhausted,
      `cannot assign an address to "${handle}": no free address in the configured pools`,
    );
  }
  return got;
}

/** Never wire an address IPAM reports outside its own block: that is an IPAM bug, not a pod. */
function sanityCheck(ips: AssignedIp[]): void {
  for (const ip of ips) {
    if (!cidrContainsIp(parseCidr(ip.blockCidr), parseIp(ip.address))) {
      throw cniFailure('bug', CNI_ERR.internal, `IPAM returned "${ip.address}" outside its block "${ip.blockCidr}"`);
    }
  }
}

export async function cmdAdd(deps: CniDeps, req: CniRequest): Promise<CniResult> {
  const w = workloadOf(req, deps.nodeName);
  if (!(await pathExists(req.netns))) {
    throw cniFailure(
      'not-found',
      CNI_ERR.unknownContainer,
      `cannot add "${req.containerId}": netns "${req.netns}" does not exist`,
    );
  }
  const netns = await resolveNetns(req.netns, w.hostIf);
  // The pod-side `ip` starts now: its start-up overlaps the datastore reads and the assign.
  let podIp: NetnsBatch | undefined;
  let veth: Promise<void> | undefined;
  const undo = new UndoStack();
  try {
    podIp = (deps.ip ?? directIpRunner).prepareNetns(netns.name);
    const [pod, mtu] = await Promise.all([lookupPod(deps, w.pod), readMtu(req), checkPoolsExist(deps, req)]);
    const link = { hostIf: w.hostIf, podIf: req.ifName, podMac: w.podMac, netnsName: netns.name, mtu };
    // A leftover veth of the same name is from an earlier, interrupted ADD of this workload.
    if (await linkExists(w.hostIf)) await deleteLink(w.hostIf, deps.signal, deps.ip);
    undo.push('release addresses', () => deps.ipam.releaseByHandle(w.handle));
    undo.push('delete host veth', () => deleteLink(w.hostIf, undefined, deps.ip));
    // The veth needs no address: the kernel's few ms creating it overlap the assign.
    veth = createHostLink(link, deps.signal, deps.ip);
    veth.catch(() => undefined); // awaited below (or before unwinding)
    const ips = await assignAddresses(deps, req, w.node, w.handle, w.pod);
    sanityCheck(ips);
    await veth;
    const wiring: PodWiring = { ...link, addresses: ips.map((i) => i.address) };
    const wep = buildWorkloadEndpoint({
      node: w.node,
      containerId: req.containerId,
      endpoint: req.ifName,
      hostIf: w.hostIf,
      mac: w.podMac,
      ipNetworks: ips.map((i) => `${i.address}/${i.family === 4 ? 32 : 128}`),
      ...(pod ? { pod } : {}),
    });
    const [written, wired] = await Promise.allSettled([
      putWep(deps.backend, wep, deps.signal),
      wirePod(wiring, familiesWanted(req), podIp, deps.signal, deps.ip),
    ]);
    if (written.status === 'fulfilled') {
      const rev = written.value.revision;
      undo.push('delete workload endpoint', () => deleteWepAt(deps.backend, w.wepNamespace, w.wepName, rev));
    }
    if (written.status === 'rejected') throw written.reason;
    if (wired.status === 'rejected') throw wired.reason;
    return resultFor(req, w.hostIf, w.podMac, ips);
  } catch (e) {
    // The veth delete must not look before the veth create has finished.
    await veth?.catch(() => undefined);
    await undo.unwind();
    throw e;
  } finally {
    await podIp?.cancel();
    await netns.release();
  }
}

export function resultFor(req: CniRequest, hostIf: string, mac: string, ips: AssignedIp[]): CniResult {
  const routes: { dst: string; gw: string }[] = [];
  if (ips.some((i) => i.family === 4)) routes.push({ dst: '0.0.0.0/0', gw: GATEWAY_V4 });
  if (ips.some((i) => i.family === 6)) routes.push({ dst: '::/0', gw: HOST_VETH_LINK_LOCAL });
  return {
    interfaces: [
      { name: hostIf, mac: HOST_VETH_MAC },
      { name: req.ifName, mac, sandbox: req.netns },
    ],
    ips: ips.map((i) => ({ address: `${i.address}/${i.family === 4 ? 32 : 128}`, interface: 1 })),
    routes,
  };
}
