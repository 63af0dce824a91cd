/**
 * Applies the rendered pod wiring to the kernel: one `ip -batch` script per ADD (see wirePod),
 * run through an IpRunner, plus direct `/proc/sys` writes. The pod-side script goes through a
 * file in BATCH_DIR because it runs via `netns exec` from the host batch.
 * Runs in the node's (host) network namespace, like any CNI plugin.
 */
import { randomBytes } from 'node:crypto';
import { access, mkdir, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { run } from '../lib/exec.js';
import { TesseraError, isTesseraError } from '../lib/errors.js';
import { BATCH_DIR, directIpRunner, type IpRunner } from './ip-runner.js';
import { hostSysctls, renderAddressBatch, renderHostLink, renderPodSetup, type PodWiring } from './wiring-render.js';

const NETNS_DIRS = new Set(['/var/run/netns', '/run/netns']);

export interface NetnsRef {
  /** Name usable with `ip -n` and `netns <name>`. */
  name: string;
  /** Removes the temporary alias, if one was made. */
  release(): Promise<void>;
}

export async function pathExists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * `ip` addresses namespaces by name under /run/netns. Runtimes that pass another path (e.g.
 * /proc/<pid>/ns/net) get a temporary symlink alias there, removed when the operation ends.
 */
export async function resolveNetns(path: string, uniq: string): Promise<NetnsRef> {
  if (NETNS_DIRS.has(dirname(path))) return { name: basename(path), release: async () => undefined };
  const name = `tsr-cni-${uniq}`;
  const alias = `/run/netns/${name}`;
  await mkdir('/run/netns', { recursive: true });
  await unlink(alias).catch(() => undefined);
  await symlink(path, alias);
  return { name, release: () => unlink(alias).catch(() => undefined) };
}

export const linkExists = (ifName: string): Promise<boolean> => pathExists(`/proc/sys/net/ipv4/conf/${ifName}`);

export async function deleteLink(ifName: string, signal?: AbortSignal, ip: IpRunner = directIpRunner): Promise<void> {
  if (!(await linkExists(ifName))) return;
  try {
    await ip.batch(`link del ${ifName}\n`, signal);
  } catch (e) {
    // Gone meanwhile (a concurrent DEL, or the pod netns went away with its peer) is success.
    if (await linkExists(ifName)) throw new TesseraError('exec-failed', `cannot delete link "${ifName}"`, { cause: e });
  }
}

export { BATCH_DIR };
let batchDirReady = false;

/**
 * The whole pod wiring in one script: veth (peer straight into the pod netns), host routes, then
 * the pod side via `netns exec` (see renderAddressBatch); then the host side's sysctls, before the
 * ADD answers (the pod sends nothing until then). One script, not one per phase: every `ip` start
 * costs ~4 ms here (its shared libraries), more than the IPAM txn it used to overlap with.
 */
export async function wirePod(w: PodWiring, families: { v4: boolean; v6: boolean }, signal?: AbortSignal, ip: IpRunner = directIpRunner): Promise<void> {
  if (!batchDirReady) {
    await mkdir(BATCH_DIR, { recursive: true });
    batchDirReady = true;
  }
  const file = `${BATCH_DIR}/${w.hostIf}-${randomBytes(4).toString('hex')}.batch`;
  await writeFile(file, renderPodSetup(w));
  try {
    await ip.batch(renderHostLink(w) + renderAddressBatch(w, file), signal);
  } finally {
    await rm(file, { force: true });
  }
  await Promise.all(
    hostSysctls(w.hostIf, families).map(([key, value]) =>
      writeFile(`/proc/sys/${key}`, value).catch((e: unknown) => {
        throw new TesseraError('exec-failed', `cannot set sysctl "${key}" to "${value}"`, { cause: e });
      }),
    ),
  );
}

export interface IpAddrJson {
  ifname: string;
  address?: string;
  operstate?: string;
  mtu?: number;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}
export interface IpRouteJson {
  dst: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  scope?: string;
}

export async function showLink(ifName: string, netnsName?: string): Promise<IpAddrJson | undefined> {
  const argv = ['ip', ...(netnsName ? ['-n', netnsName] : []), '-j', 'addr', 'show', 'dev', ifName];
  try {
    const r = await run(argv);
    return (JSON.parse(r.stdout) as IpAddrJson[])[0];
  } catch (e) {
    if (isTesseraError(e, 'exec-failed')) return undefined;
    throw e;
  }
}

export async function showRoutes(family: 4 | 6, netnsName?: string): Promise<IpRouteJson[]> {
  const argv = ['ip', ...(netnsName ? ['-n', netnsName] : []), '-j', `-${family}`, 'route', 'show'];
  return JSON.parse((await run(argv)).stdout) as IpRouteJson[];
}
