/**
 * Renders the `ip -batch` scripts that wire a pod (Calico-style): pure text, no kernel access.
 *
 * Host side: veth with the peer created directly in the pod netns, MAC ee:ee:ee:ee:ee:ee, one
 * `/32` (`/128`) route per pod address tagged with Tessera's route protocol (80, "tessera").
 * Pod side: `/32` (`/128`) addresses, a link-scope route to 169.254.1.1 and a default route via
 * it; a permanent neighbour entry for 169.254.1.1 so the pod never depends on proxy ARP (which
 * only answers when the host has a route to 169.254.1.1). IPv6 default goes via the host veth's
 * link-local address, which is derived from its fixed MAC (EUI-64), so no read-back is needed.
 */

export const HOST_VETH_MAC = 'ee:ee:ee:ee:ee:ee';
export const GATEWAY_V4 = '169.254.1.1';
/** EUI-64 link-local of ee:ee:ee:ee:ee:ee. */
export const HOST_VETH_LINK_LOCAL = 'fe80::ecee:eeff:feee:eeee';
/** Route protocol number Tessera tags its routes with ("tessera" in rt_protos). */
export const TESSERA_ROUTE_PROTO = 80;

export interface PodWiring {
  hostIf: string;
  podIf: string;
  podMac: string;
  /** `ip -n` name of the pod's netns. */
  netnsName: string;
  mtu: number;
  /** Plain addresses (no prefix). */
  addresses: string[];
}

const isV6 = (a: string): boolean => a.includes(':');

/** Host veth with its peer created directly in the pod netns; needs no address yet. */
export function renderHostLink(w: Omit<PodWiring, 'addresses'>): string {
  return (
    `link add ${w.hostIf} mtu ${w.mtu} address ${HOST_VETH_MAC} type veth peer name ${w.podIf} mtu ${w.mtu} address ${w.podMac} netns ${w.netnsName}\n` +
    `link set ${w.hostIf} up\n`
  );
}

export function renderHostRoutes(w: Pick<PodWiring, 'hostIf' | 'addresses'>): string {
  return w.addresses
    .map((a) => `route replace ${a}/${isV6(a) ? 128 : 32} dev ${w.hostIf} proto ${TESSERA_ROUTE_PROTO} scope link\n`)
    .join('');
}

export function renderPodSetup(w: PodWiring): string {
  const lines = [`link set ${w.podIf} up`];
  const v4 = w.addresses.filter((a) => !isV6(a));
  const v6 = w.addresses.filter(isV6);
  for (const a of v4) lines.push(`addr add ${a}/32 dev ${w.podIf}`);
  for (const a of v6) lines.push(`addr add ${a}/128 dev ${w.podIf} nodad`);
  if (v4.length > 0) {
    lines.push(`neigh replace ${GATEWAY_V4} lladdr ${HOST_VETH_MAC} dev ${w.podIf} nud permanent`);
    lines.push(`route add ${GATEWAY_V4}/32 dev ${w.podIf} scope link`);
    lines.push(`route add default via ${GATEWAY_V4} dev ${w.podIf}`);
  }
  if (v6.length > 0) lines.push(`route add ::/0 via ${HOST_VETH_LINK_LOCAL} dev ${w.podIf}`);
  return lines.join('\n') + '\n';
}

/** Sysctls the host veth needs, as `/proc/sys` relative paths and values. */
export function hostSysctls(hostIf: string, families: { v4: boolean; v6: boolean }): [string, string][] {
  const out: [string, string][] = [];
  if (families.v4) {
    out.push([`net/ipv4/conf/${hostIf}/proxy_arp`, '1']);
    out.push([`net/ipv4/neigh/${hostIf}/proxy_delay`, '0']);
    out.push([`net/ipv4/conf/${hostIf}/forwarding`, '1']);
  }
  if (families.v6) {
    out.push([`net/ipv6/conf/${hostIf}/proxy_ndp`, '1']);
    out.push([`net/ipv6/conf/${hostIf}/forwarding`, '1']);
  }
  return out;
}
