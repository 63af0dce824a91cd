/**
 * natOutgoing: masquerade traffic from a pool with natOutgoing to anywhere outside all pools; and
 * no conntrack for the VXLAN underlay. Each only while needed (see renderNatTable).
 * Kept in its own small table (`inet tessera_nat`) because it is rewritten whole on change, unlike
 * the policy table, whose updates must be incremental.
 */
import { NftSession } from '../nft/index.js';
import { checkCidr } from '../../lib/ip.js';
import { VXLAN_PORT } from '../../lib/marks.js';

export const NAT_TABLE = 'tessera_nat';

function set(name: string, type: 'ipv4_addr' | 'ipv6_addr', cidrs: string[]): string {
  const elems = cidrs.length ? ` elements = { ${cidrs.join(', ')} };` : '';
  return `  set ${name} { type ${type}; flags interval;${elems} }\n`;
}

/** What the NAT table is rendered from. */
export interface NatInputs {
  /** CIDRs of enabled pools with natOutgoing. */
  natPools: readonly string[];
  /** Every pool CIDR (traffic to these is never masqueraded). */
  allPools: readonly string[];
  /** Whether this node has a VTEP, i.e. carries VXLAN underlay traffic. */
  vxlan: boolean;
}

/**
 * Renders the whole NAT table (pure). Each base chain costs every packet that passes its hook, and a
 * nat chain also makes the kernel run its NAT hooks for every packet of every connection (measured:
 * ~5-8% of a node's CPU per forwarded GB). So the chains exist only when needed: the masquerade
 * chain only while some pool has natOutgoing, the notrack chains only while the node has a VTEP.
 * The sets are always there, so the table's shape is stable for readers.
 */
export function renderNatTable(inputs: NatInputs): string {
  const fam = (list: readonly string[], f: 4 | 6) => list.filter((c) => checkCidr(c).cidr?.family === f);
  const { natPools, allPools } = inputs;
  const masquerade = natPools.length
    ? `  chain postrouting {\n` +
      `    type nat hook postrouting priority srcnat; policy accept;\n` +
      `    ip saddr @nat4 ip daddr != @pools4 masquerade\n` +
      `    ip6 saddr @nat6 ip6 daddr != @pools6 masquerade\n` +
      `  }\n`
    : '';
  // The VXLAN underlay (UDP 4789 between nodes) needs no connection tracking: policy applies to the
  // inner packets, which are tracked. Skipping conntrack for the outer packets is measurably faster.
  const notrack = inputs.vxlan
    ? `  chain raw_prerouting {\n` +
      `    type filter hook prerouting priority raw; policy accept;\n` +
      `    udp dport ${VXLAN_PORT} notrack\n` +
      `  }\n` +
      `  chain raw_output {\n` +
      `    type filter hook output priority raw; policy accept;\n` +
      `    udp dport ${VXLAN_PORT} notrack\n` +
      `  }\n`
    : '';
  return (
    `table inet ${NAT_TABLE} {\n` +
    set('nat4', 'ipv4_addr', fam(natPools, 4)) +
    set('pools4', 'ipv4_addr', fam(allPools, 4)) +
    set('nat6', 'ipv6_addr', fam(natPools, 6)) +
    set('pools6', 'ipv6_addr', fam(allPools, 6)) +
    masquerade +
    notrack +
    `}\n`
  );
}

export class NatReconciler {
  private applied: string | undefined;
  private readonly session: NftSession;
  private readonly ownSession: boolean;

  /** `session`: the agent's shared nftables session; by default the reconciler opens its own. */
  constructor(options: { netns?: string; session?: NftSession } = {}) {
    this.ownSession = !options.session;
    this.session = options.session ?? new NftSession(options.netns ? { netns: options.netns } : {});
  }

  /** Applies when the rendering changed or the table went missing (drift). Returns true on a write. */
  async apply(inputs: NatInputs, checkDrift = false): Promise<boolean> {
    const want = renderNatTable(inputs);
    if (want === this.applied && !checkDrift) return false;
    if (want === this.applied) {
      const present = await this.session.exec(`list table inet ${NAT_TABLE}`).then(
        () => true,
        () => false,
      );
      if (present) return false;
    }
    // Create-then-delete makes the delete safe whether or not the table exists; one atomic transaction.
    const script = `table inet ${NAT_TABLE}\ndelete table inet ${NAT_TABLE}\n${want}`;
    await this.session.exec(script);
    this.applied = want;
    return true;
  }

  async remove(): Promise<void> {
    await this.session.exec(`delete table inet ${NAT_TABLE}`).catch(() => undefined);
    this.applied = undefined;
  }

  /** Stops the nft helper of a session this reconciler opened. */
  close(): void {
    if (this.ownSession) this.session.close();
  }
}
