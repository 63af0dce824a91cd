/**
 * Kernel settings the agent keeps on its node, like Felix's IPForwarding: the list is pure
 * (`nodeSysctls`), the writer is thin (`applySysctls`: read, write only what differs, report).
 *
 * - IPv4 forwarding always (pods are routed through the host); IPv6 forwarding only when the node
 *   has an IPv6 address (turning it on makes the kernel ignore router advertisements on
 *   interfaces with accept_ra=1, so it is not done on IPv4-only nodes).
 * - `nf_conntrack_tcp_be_liberal` (on by default, `--conntrack-tcp-be-liberal=false` to keep the
 *   kernel's default): connection tracking stops classifying out-of-window TCP segments as
 *   INVALID (RSTs still are). Policy is unchanged: a connection is still only established after
 *   its first packet was allowed, and the pod's own TCP stack rejects out-of-window segments. It
 *   avoids spurious resets when the tracker misjudges a window (the reason kube-proxy offers the
 *   same switch) and saves ~5% CPU per forwarded GB here (bench-dataplane).
 * The netfilter setting exists once conntrack is loaded, i.e. after the first policy write, so it
 * is applied after the dataplane drivers on every full cycle (start and periodic resync), which
 * also puts it back if someone changes it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface SysctlOptions {
  ipv6: boolean;
  conntrackTcpBeLiberal: boolean;
}

/** `/proc/sys`-relative paths and the values the node needs (pure). */
export function nodeSysctls(o: SysctlOptions): [path: string, value: string][] {
  const out: [string, string][] = [['net/ipv4/ip_forward', '1']];
  if (o.ipv6) out.push(['net/ipv6/conf/all/forwarding', '1']);
  if (o.conntrackTcpBeLiberal) out.push(['net/netfilter/nf_conntrack_tcp_be_liberal', '1']);
  return out;
}

export interface SysctlResult {
  /** Settings that were different and have been written, as `path=value`. */
  changed: string[];
  /** Settings that could not be read or written, with why. */
  problems: string[];
}

export async function applySysctls(list: readonly [string, string][], root = '/proc/sys'): Promise<SysctlResult> {
  const result: SysctlResult = { changed: [], problems: [] };
  for (const [path, value] of list) {
    const file = join(root, path);
    try {
      const current = (await readFile(file, 'utf8')).trim();
      if (current === value) continue;
      await writeFile(file, value);
      result.changed.push(`${path.replaceAll('/', '.')}=${value}`);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      result.problems.push(
        `cannot set ${path.replaceAll('/', '.')}=${value}: ${code === 'ENOENT' ? 'no such setting in this kernel' : (e as Error).message}`,
      );
    }
  }
  return result;
}
