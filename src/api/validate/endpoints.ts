/** Node, HostEndpoint, WorkloadEndpoint, CalicoNodeStatus. */
import {
  checkAsNumber,
  checkCidrField,
  checkIntRange,
  checkIpField,
  checkIpWithPrefix,
  checkOneOf,
  checkSubdomain,
  type Problems,
} from './common.js';
import { isRecord, joinPath, quote } from './shape.js';
import { checkCidr, cidrContainsIp, familyBits } from '../../lib/ip.js';

const MAC_RE = /^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$|^([0-9a-fA-F]{2}[:-]){7}[0-9a-fA-F]{2}$/;
const IFACE_RE = /^[^\s/]{1,15}$/;

function checkMac(p: Problems, path: string, v: unknown): void {
  if (typeof v === 'string' && !MAC_RE.test(v)) p.add(path, `${quote(v)} is not a MAC address`);
}

function checkEndpointPorts(p: Problems, v: unknown): void {
  if (!Array.isArray(v)) return;
  const names = new Set<string>();
  v.forEach((port, i) => {
    if (!isRecord(port)) return;
    const at = joinPath('spec.ports', i);
    if (typeof port.name !== 'string' || port.name === '') p.add(joinPath(at, 'name'), 'port name is required');
    else if (names.has(port.name)) p.add(joinPath(at, 'name'), `port name ${quote(port.name)} is repeated`);
    else names.add(port.name);
    if (port.protocol === undefined || port.protocol === null) p.add(joinPath(at, 'protocol'), 'protocol is required');
    else checkOneOf(p, joinPath(at, 'protocol'), port.protocol, ['TCP', 'UDP', 'SCTP'] as const);
    if (port.port === undefined || port.port === null) p.add(joinPath(at, 'port'), 'port is required');
    checkIntRange(p, joinPath(at, 'port'), port.port, 1, 65535, 'port');
    checkIntRange(p, joinPath(at, 'hostPort'), port.hostPort, 1, 65535, 'hostPort');
    checkIpField(p, joinPath(at, 'hostIP'), port.hostIP);
  });
}

export function validateNode(p: Problems, spec: Record<string, unknown>): void {
  const bgp = spec.bgp;
  if (isRecord(bgp) && Object.values(bgp).every((v) => v === undefined || v === null || v === '')) {
    p.add('spec.bgp', 'spec.bgp must not be empty (omit it, or set ipv4Address or ipv6Address)');
  }
  if (isRecord(bgp)) {
    checkAsNumber(p, 'spec.bgp.asNumber', bgp.asNumber);
    checkIpWithPrefix(p, 'spec.bgp.ipv4Address', bgp.ipv4Address, 4);
    checkIpWithPrefix(p, 'spec.bgp.ipv6Address', bgp.ipv6Address, 6);
    checkIpField(p, 'spec.bgp.ipv4IPIPTunnelAddr', bgp.ipv4IPIPTunnelAddr, 4);
    checkIpField(p, 'spec.bgp.routeReflectorClusterID', bgp.routeReflectorClusterID, 4);
  }
  checkIpField(p, 'spec.ipv4VXLANTunnelAddr', spec.ipv4VXLANTunnelAddr, 4);
  checkIpField(p, 'spec.ipv6VXLANTunnelAddr', spec.ipv6VXLANTunnelAddr, 6);
  checkMac(p, 'spec.vxlanTunnelMACAddr', spec.vxlanTunnelMACAddr);
  checkMac(p, 'spec.vxlanTunnelMACAddrV6', spec.vxlanTunnelMACAddrV6);
  if (Array.isArray(spec.orchRefs)) {
    spec.orchRefs.forEach((r, i) => {
      if (isRecord(r) && (typeof r.orchestrator !== 'string' || r.orchestrator === '')) {
        p.add(joinPath(joinPath('spec.orchRefs', i), 'orchestrator'), 'orchestrator is required');
      }
    });
  }
  if (isRecord(spec.wireguard)) {
    checkIpWithPrefix(p, 'spec.wireguard.interfaceIPv4Address', spec.wireguard.interfaceIPv4Address, 4);
    checkIpWithPrefix(p, 'spec.wireguard.interfaceIPv6Address', spec.wireguard.interfaceIPv6Address, 6);
  }
  if (Array.isArray(spec.addresses)) {
    spec.addresses.forEach((a, i) => {
      if (!isRecord(a)) return;
      const at = joinPath('spec.addresses', i);
      checkIpWithPrefix(p, joinPath(at, 'address'), a.address);
      checkOneOf(p, joinPath(at, 'type'), a.type, ['InternalIP', 'ExternalIP', 'CalicoNodeIP'] as const);
    });
  }
}

export function validateHostEndpoint(p: Problems, spec: Record<string, unknown>): void {
  if (typeof spec.node !== 'string' || spec.node === '') p.add('spec.node', 'node is required');
  else checkSubdomain(p, 'spec.node', spec.node, 'node name');
  const iface = spec.interfaceName;
  const ips = spec.expectedIPs;
  if ((typeof iface !== 'string' || iface === '') && (!Array.isArray(ips) || ips.length === 0)) {
    p.add('spec.interfaceName', 'set interfaceName or at least one of expectedIPs');
  }
  if (typeof iface === 'string' && iface !== '' && iface !== '*' && !IFACE_RE.test(iface)) {
    p.add('spec.interfaceName', `${quote(iface)} is not "*" or a valid interface name`);
  }
  if (Array.isArray(ips)) ips.forEach((ip, i) => checkIpField(p, joinPath('spec.expectedIPs', i), ip));
  if (Array.isArray(spec.profiles)) {
    spec.profiles.forEach((pr, i) => checkSubdomain(p, joinPath('spec.profiles', i), pr, 'profile name'));
  }
  checkEndpointPorts(p, spec.ports);
}

export function validateWorkloadEndpoint(p: Problems, spec: Record<string, unknown>): void {
  if (typeof spec.node === 'string') checkSubdomain(p, 'spec.node', spec.node, 'node name');
  if (Array.isArray(spec.ipNetworks)) {
    spec.ipNetworks.forEach((n, i) => {
      const at = joinPath('spec.ipNetworks', i);
      const cidr = checkCidrField(p, at, n, { allowBareIp: true, strict: false });
      // Calico: each entry is one endpoint address (a /32 or /128), never a subnet.
      if (cidr && cidr.prefix !== familyBits(cidr.family)) {
        p.add(
          at,
          `IP network contains multiple addresses: ${quote(n)} (give the endpoint's own address, /${familyBits(cidr.family)})`,
        );
      }
    });
  }
  if (Array.isArray(spec.ipNATs)) {
    const nets = (Array.isArray(spec.ipNetworks) ? spec.ipNetworks : []).flatMap((n) => {
      const c = typeof n === 'string' ? checkCidr(n, { allowBareIp: true, strict: false }).cidr : undefined;
      return c ? [c] : [];
    });
    spec.ipNATs.forEach((n, i) => {
      if (!isRecord(n)) return;
      const at = joinPath('spec.ipNATs', i);
      const internal = checkIpField(p, joinPath(at, 'internalIP'), n.internalIP);
      const external = checkIpField(p, joinPath(at, 'externalIP'), n.externalIP);
      if (internal && external && internal.family !== external.family) {
        p.add(
          joinPath(at, 'externalIP'),
          `externalIP ${quote(n.externalIP)} and internalIP ${quote(n.internalIP)} are of different IP families`,
        );
      }
      if (internal && !nets.some((c) => cidrContainsIp(c, internal))) {
        p.add(joinPath(at, 'internalIP'), `internalIP ${quote(n.internalIP)} is not in the endpoint's ipNetworks`);
      }
    });
  }
  checkIpField(p, 'spec.ipv4Gateway', spec.ipv4Gateway, 4);
  checkIpField(p, 'spec.ipv6Gateway', spec.ipv6Gateway, 6);
  if (typeof spec.interfaceName === 'string' && spec.interfaceName !== '' && !IFACE_RE.test(spec.interfaceName)) {
    p.add(
      'spec.interfaceName',
      `${quote(spec.interfaceName)} is not a valid interface name (1-15 characters, no "/" or spaces)`,
    );
  }
  checkMac(p, 'spec.mac', spec.mac);
  if (Array.isArray(spec.profiles)) {
    spec.profiles.forEach((pr, i) => checkSubdomain(p, joinPath('spec.profiles', i), pr, 'profile name'));
  }
  if (Array.isArray(spec.allowSpoofedSourcePrefixes)) {
    spec.allowSpoofedSourcePrefixes.forEach((n, i) =>
      checkCidrField(p, joinPath('spec.allowSpoofedSourcePrefixes', i), n, { allowBareIp: true }),
    );
  }
  checkEndpointPorts(p, spec.ports);
}

export function validateCalicoNodeStatus(p: Problems, spec: Record<string, unknown>): void {
  if (typeof spec.node !== 'string' || spec.node === '') p.add('spec.node', 'node is required');
  else checkSubdomain(p, 'spec.node', spec.node, 'node name');
  if (!Array.isArray(spec.classes) || spec.classes.length === 0) p.add('spec.classes', 'classes is required');
  else {
    spec.classes.forEach((c, i) => checkOneOf(p, joinPath('spec.classes', i), c, ['Agent', 'BGP', 'Routes'] as const));
    // The `unique` tag and the CRD's MaxItems=3.
    const dup = spec.classes.find((c, i) => (spec.classes as unknown[]).indexOf(c) !== i);
    if (dup !== undefined) p.add('spec.classes', `class ${quote(dup)} is listed more than once`);
    else if (spec.classes.length > 3) p.add('spec.classes', `at most 3 classes, got ${spec.classes.length}`);
  }
  if (spec.updatePeriodSeconds === undefined || spec.updatePeriodSeconds === null) {
    p.add('spec.updatePeriodSeconds', 'updatePeriodSeconds is required');
  }
  checkIntRange(p, 'spec.updatePeriodSeconds', spec.updatePeriodSeconds, 0, 86400, 'updatePeriodSeconds');
}
