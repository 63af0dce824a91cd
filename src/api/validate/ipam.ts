/** IPPool, IPReservation, IPAMConfiguration. */
import { cidrOverlaps, familyBits, parseCidr } from '../../lib/ip.js';
import { checkCidrField, checkIntRange, checkOneOf, checkSelector, type Problems } from './common.js';
import { joinPath, quote } from './shape.js';

const ENCAP = ['Always', 'CrossSubnet', 'Never'] as const;
const USES = ['Workload', 'Tunnel', 'LoadBalancer'] as const;
const LINK_LOCAL = [parseCidr('169.254.0.0/16'), parseCidr('fe80::/10')];

export function validateIPPool(p: Problems, spec: Record<string, unknown>): void {
  if (spec.cidr === undefined || spec.cidr === null) p.add('spec.cidr', 'cidr is required');
  const cidr = checkCidrField(p, 'spec.cidr', spec.cidr);
  if (cidr) {
    const ll = LINK_LOCAL.find((l) => cidrOverlaps(l, cidr));
    if (ll)
      p.add(
        'spec.cidr',
        `${quote(spec.cidr)} overlaps the link-local range ${ll.family === 4 ? '169.254.0.0/16' : 'fe80::/10'}`,
      );
  }
  const bs = spec.blockSize;
  if (typeof bs === 'number' && Number.isInteger(bs)) {
    const fam = cidr?.family;
    if (fam === 4 || (fam === undefined && bs <= 32)) checkIntRange(p, 'spec.blockSize', bs, 20, 32, 'IPv4 blockSize');
    else checkIntRange(p, 'spec.blockSize', bs, 116, 128, 'IPv6 blockSize');
  }
  // Calico checks the minimum size only for an enabled pool (a disabled one allocates nothing).
  if (cidr && spec.disabled !== true) {
    const blockSize = typeof bs === 'number' ? bs : cidr.family === 4 ? 26 : 122;
    if (blockSize <= familyBits(cidr.family) && cidr.prefix > blockSize) {
      p.add(
        'spec.cidr',
        `${quote(spec.cidr)} is smaller than one block (/${blockSize}); use a prefix of /${blockSize} or shorter`,
      );
    }
  }
  const ipip = checkOneOf(p, 'spec.ipipMode', spec.ipipMode, ENCAP) ? spec.ipipMode : undefined;
  const vxlan = checkOneOf(p, 'spec.vxlanMode', spec.vxlanMode, ENCAP) ? spec.vxlanMode : undefined;
  if (ipip !== undefined && ipip !== 'Never' && vxlan !== undefined && vxlan !== 'Never') {
    p.add('spec.vxlanMode', `ipipMode ${quote(ipip)} and vxlanMode ${quote(vxlan)} cannot both be enabled on one pool`);
  }
  if (cidr?.family === 6 && ipip !== undefined && ipip !== 'Never') {
    p.add('spec.ipipMode', `IPIP is not supported on an IPv6 pool (ipipMode ${quote(ipip)})`);
  }
  checkSelector(p, 'spec.nodeSelector', spec.nodeSelector);
  if (Array.isArray(spec.allowedUses)) {
    if (spec.allowedUses.length === 0) p.add('spec.allowedUses', 'allowedUses must not be empty when set');
    spec.allowedUses.forEach((u, i) => checkOneOf(p, joinPath('spec.allowedUses', i), u, USES));
    if (spec.allowedUses.includes('LoadBalancer') && spec.allowedUses.length > 1) {
      p.add('spec.allowedUses', 'LoadBalancer cannot be combined with other allowed uses');
    }
    // Calico's CRD rules for LoadBalancer pools: their addresses are advertised, never tunnelled,
    // and belong to no particular node.
    if (spec.allowedUses.includes('LoadBalancer')) {
      if (spec.disableBGPExport === true)
        p.add(
          'spec.disableBGPExport',
          'a LoadBalancer pool cannot set disableBGPExport (its addresses are advertised)',
        );
      if (ipip !== undefined && ipip !== 'Never')
        p.add('spec.ipipMode', `a LoadBalancer pool cannot use IPIP (ipipMode ${quote(ipip)})`);
      if (vxlan !== undefined && vxlan !== 'Never')
        p.add('spec.vxlanMode', `a LoadBalancer pool cannot use VXLAN (vxlanMode ${quote(vxlan)})`);
      const sel = typeof spec.nodeSelector === 'string' ? spec.nodeSelector.trim() : '';
      if (sel !== '' && sel !== 'all()')
        p.add(
          'spec.nodeSelector',
          `a LoadBalancer pool must select all nodes ("all()"), got ${quote(spec.nodeSelector)}`,
        );
    }
  }
  checkOneOf(p, 'spec.assignmentMode', spec.assignmentMode, ['Automatic', 'Manual'] as const);
}

export function validateIPReservation(p: Problems, spec: Record<string, unknown>): void {
  const list = spec.reservedCIDRs;
  if (!Array.isArray(list)) return;
  list.forEach((c, i) => {
    checkCidrField(p, joinPath('spec.reservedCIDRs', i), c, { allowBareIp: true, strict: false });
    // The CRD's UniqueItems=true.
    if (list.indexOf(c) !== i) p.add(joinPath('spec.reservedCIDRs', i), `${quote(c)} is listed more than once`);
  });
}

export function validateIPAMConfiguration(p: Problems, spec: Record<string, unknown>, name: string): void {
  if (name !== 'default')
    p.add('metadata.name', `IPAMConfiguration is a singleton named "default", got ${quote(name)}`);
  checkIntRange(p, 'spec.maxBlocksPerHost', spec.maxBlocksPerHost, 0, 2147483647, 'maxBlocksPerHost');
}
