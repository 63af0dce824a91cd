/**
 * What the agent learns about its host once, at start: the node's addresses (autodetect.ts), the
 * MTU of the interface that carries the IPv4 address, and whether the kernel has ipip. The node
 * registrar owns these facts (node-registrar.ts); routing and sysctls read them from it.
 */
import { run } from '../lib/exec.js';
import { IPIP_DEVICE } from '../lib/marks.js';
import { detectNodeAddress, interfaceMtuFor, type AutodetectMethod } from './autodetect.js';

export interface HostFacts {
  address: string;
  address6: string | undefined;
  mtu: number;
  ipipSupported: boolean;
}

/** The facts before discovery has run. */
export const NO_HOST_FACTS: HostFacts = { address: '', address6: undefined, mtu: 1500, ipipSupported: false };

export interface HostFactMethods {
  ipv4: AutodetectMethod;
  ipv6?: AutodetectMethod | undefined;
}

export async function discoverHostFacts(methods: HostFactMethods): Promise<HostFacts> {
  const address = await detectNodeAddress(methods.ipv4, 4);
  return {
    address,
    mtu: (await interfaceMtuFor(address)) ?? 1500,
    // IPv6 is optional: a node without a global IPv6 address simply has no IPv6 routes.
    address6: await detectNodeAddress(methods.ipv6 ?? { kind: 'first-found' }, 6).catch(() => undefined),
    ipipSupported: await probeIpip(),
  };
}

/**
 * Whether the kernel has ipip: the one kernel write before in-sync. A loadable module is only
 * loaded by an attempt to create the device, so looking for `tunl0` would say no.
 */
async function probeIpip(): Promise<boolean> {
  const existing = await run(['ip', 'link', 'show', 'dev', IPIP_DEVICE], { check: false });
  if (existing.code === 0) return true;
  // With a remote address: an any/any ipip device would clash with the kernel's fallback `tunl0`
  // ("File exists") on every kernel that has ipip.
  const r = await run(['ip', 'link', 'add', IPIP_DEVICE, 'type', 'ipip', 'remote', '192.0.2.1'], { check: false });
  if (r.code !== 0) return false;
  await run(['ip', 'link', 'del', IPIP_DEVICE], { check: false });
  return true;
}
