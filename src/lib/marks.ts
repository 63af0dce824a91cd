/**
 * How Tessera recognises its own kernel objects after a restart with no memory (DESIGN.md):
 * everything it creates carries one of these marks, and reconcilers only ever touch marked objects.
 */
/** Route protocol number on every route the agent or the CNI plugin installs (`ip route ... proto 80`). */
export const ROUTE_PROTOCOL = 80;
/** Default prefix of host-side workload veths. */
export const DEFAULT_INTERFACE_PREFIX = 'tsr';
export const VXLAN_DEVICE = 'tessera.vxlan';
export const VXLAN_V6_DEVICE = 'tessera.vxlan6';
export const IPIP_DEVICE = 'tessera.ipip';
export const VXLAN_PORT = 4789;
export const VXLAN_VNI = 4096;
export const VXLAN_V6_VNI = 6096;
/** Table name, in family `inet`, holding all of Tessera's nftables state. */
export const NFT_TABLE = 'tessera';
/** Link-local gateway every workload routes through (as Calico). */
export const WORKLOAD_GATEWAY_V4 = '169.254.1.1';
export const WORKLOAD_HOST_MAC = 'ee:ee:ee:ee:ee:ee';
/** Encapsulation overheads subtracted from the host MTU. */
export const VXLAN_OVERHEAD_V4 = 50;
export const VXLAN_OVERHEAD_V6 = 70;
export const IPIP_OVERHEAD = 20;
