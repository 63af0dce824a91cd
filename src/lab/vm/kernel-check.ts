/** What the host kernel can run, probed in a throw-away network namespace (nothing is left behind). */
import { run } from '../../lib/exec.js';

/**
 * The kernel's error when it cannot make an `ipip` device (this host's kernel has no ipip), or
 * undefined when it can. `unshare -n` gives the probe its own network namespace, gone when it exits.
 */
export async function kernelLacksIpip(): Promise<string | undefined> {
  const r = await run(['unshare', '-n', 'ip', 'link', 'add', 'tsrprobe0', 'type', 'ipip', 'remote', '192.0.2.1'], {
    check: false,
    timeoutMs: 10_000,
  });
  return r.code === 0 ? undefined : r.stderr.trim() || `exit ${r.code}`;
}

/**
 * Whether this kernel opens SCTP sockets (`socket(AF_INET6, SOCK_STREAM, IPPROTO_SCTP)`): Debian's
 * VM kernel does; this host's kernel answers "Protocol not supported". Probed in a throw-away netns.
 */
export async function kernelHasSctpSockets(): Promise<boolean> {
  const r = await run(
    ['unshare', '-n', 'perl', '-e', 'use Socket; socket(my $s, AF_INET6, SOCK_STREAM, 132) or die "$!\\n"'],
    { check: false, timeoutMs: 10_000 },
  );
  return r.code === 0;
}
