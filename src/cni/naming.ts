/**
 * Names Tessera derives for a workload: the host-side veth, the pod-side MAC, the IPAM handle and
 * Calico's WorkloadEndpoint name. Deterministic, so DEL can find what ADD made with no memory.
 */
import { createHash } from 'node:crypto';

export const DEFAULT_INTERFACE_PREFIX = 'tsr';
/** Kernel interface names are at most 15 bytes. */
const IFNAMSIZ_MAX = 15;

/** `<prefix><11 hex of sha1(key)>`; key is `<ns>.<pod>` for k8s pods, the container ID otherwise. */
export function hostVethName(prefix: string, key: string): string {
  const hex = createHash('sha1').update(key).digest('hex').slice(0, 11);
  return `${prefix}${hex}`.slice(0, IFNAMSIZ_MAX);
}

/** A stable locally administered unicast MAC for the pod side, from the container ID. */
export function podMac(containerId: string): string {
  const b = createHash('sha1').update(`mac:${containerId}`).digest();
  const first = ((b[0] ?? 0) | 0x02) & 0xfe;
  const bytes = [first, b[1] ?? 0, b[2] ?? 0, b[3] ?? 0, b[4] ?? 0, b[5] ?? 0];
  return bytes.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export const handleId = (network: string, containerId: string): string => `${network}.${containerId}`;

// The WEP name lives in api: kube-controllers (which may not import cni) finds endpoints by it.
export { wepName } from '../api/index.js';
