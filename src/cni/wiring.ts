/**
 * Applies the rendered pod wiring to the kernel: a host-side and a pod-side `ip -batch` script per
 * ADD (see wirePod), run through an IpRunner, plus direct `/proc/sys` writes.
 * Runs in the node's (host) network namespace, like any CNI plugin.
 */
import { access, mkdir, symlink, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { run } from '../lib/exec.js';
import { TesseraError, isTesseraError } from '../lib/errors.js';
import { directIpRunner, SAFE_NETNS_NAME, type IpRunner, type NetnsBatch } from './ip-runner.js';
import { hostSysctls, renderHostLink, renderHostRoutes, renderPodSetup, type PodWiring } from './wiring-render.js';

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
 * /proc/<pid>/ns/net), or a name the ip helper would have to quote, get a temporary symlink
 * alias there, removed when the operation ends.
 */
export async function resolveNetns(path: string, uniq: string): Promise<NetnsRef> {
  if (NETNS_DIRS.has(dirname(path)) && SAFE_NETNS_NAME.test(basename(path)))
    return { name: basename(path), release: async () => undefined };
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

/** The host veth with its peer straight into the pod netns, up; needs no address, so it runs during the assign. */
export function createHostLink(
  w: Omit<PodWiring, 'addresses'>,
  signal?: AbortSignal,
  ip: IpRunner = directIpRunner,
): Promise<void> {
  return ip.batch(renderHostLink(w), signal);
}

/**
 * The rest of the pod wiring once the veth exists (createHostLink): host routes, the pod side
 * through `pod` (started when the ADD began, so its `ip` start-up is already paid) and the host
 * veth's sysctls, side by side; all before the ADD answers (the pod sends nothing until then).
 */
export async function wirePod(
  w: PodWiring,
  families: { v4: boolean; v6: boolean },
  pod: NetnsBatch,
  signal?: AbortSignal,
  ip: IpRunner = directIpRunner,
): Promise<void> {
  const sysctls = Promise.all(
    hostSysctls(w.hostIf, families).map(([key, value]) =>
      writeFile(`/proc/sys/${key}`, value).catch((e: unknown) => {
        throw new TesseraError('exec-failed', `cannot set sysctl "${key}" to "${value}"`, { cause: e });
      }),
    ),
  );
  const done = await Promise.allSettled([ip.batch(renderHostRoutes(w), signal), pod.run(renderPodSetup(w)), sysctls]);
  for (const d of done) if (d.status === 'rejected') throw d.reason;
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
