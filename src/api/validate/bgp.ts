/** BGPConfiguration, BGPPeer, BGPFilter. */
import { tryParseIp } from '../../lib/ip.js';
import {
  LOG_SEVERITIES,
  checkAsNumber,
  checkCidrField,
  checkDuration,
  checkIntRange,
  checkIpField,
  checkOneOf,
  checkSelector,
  checkSubdomain,
  type Problems,
} from './common.js';
import { isRecord, joinPath, quote } from './shape.js';

/** `aa:nn` (16-bit parts) or `aa:nn:mm` (32-bit parts). */
function checkCommunityValue(p: Problems, path: string, v: unknown): boolean {
  if (typeof v !== 'string') return false;
  const parts = v.split(':');
  const max = parts.length === 2 ? 65535 : parts.length === 3 ? 4294967295 : -1;
  if (max > 0 && parts.every((x) => /^\d+$/.test(x) && Number(x) <= max)) return true;
  p.add(path, `${quote(v)} is not a BGP community ("aa:nn" with 16-bit parts or "aa:nn:mm" with 32-bit parts)`);
  return false;
}

function checkPassword(p: Problems, path: string, v: unknown): void {
  if (!isRecord(v) || !isRecord(v.secretKeyRef)) return;
  const ref = v.secretKeyRef;
  const at = joinPath(path, 'secretKeyRef');
  if (typeof ref.name !== 'string' || ref.name === '') p.add(joinPath(at, 'name'), 'secret name is required');
  if (typeof ref.key !== 'string' || ref.key === '') p.add(joinPath(at, 'key'), 'secret key is required');
}

const GLOBAL_ONLY = [
  'nodeToNodeMeshEnabled',
  'asNumber',
  'serviceClusterIPs',
  'serviceExternalIPs',
  'serviceLoadBalancerIPs',
  'communities',
  'nodeMeshPassword',
  'nodeMeshMaxRestartTime',
  'localWorkloadPeeringIPV4',
  'localWorkloadPeeringIPV6',
] as const;

export function validateBGPConfiguration(p: Problems, spec: Record<string, unknown>, name: string): void {
  const isDefault = name === 'default';
  if (!isDefault && !name.startsWith('node.')) {
    p.add('metadata.name', `BGPConfiguration must be named "default" or "node.<nodename>", got ${quote(name)}`);
  }
  if (!isDefault) {
    for (const f of GLOBAL_ONLY) {
      if (spec[f] !== undefined && spec[f] !== null) {
        p.add(joinPath('spec', f), `${f} is only valid on the global "default" BGPConfiguration`);
      }
    }
  }
  checkOneOf(p, 'spec.logSeverityScreen', spec.logSeverityScreen, LOG_SEVERITIES);
  checkAsNumber(p, 'spec.asNumber', spec.asNumber);
  for (const f of ['serviceClusterIPs', 'serviceExternalIPs', 'serviceLoadBalancerIPs'] as const) {
    const list = spec[f];
    if (!Array.isArray(list)) continue;
    list.forEach((c, i) => {
      if (isRecord(c)) checkCidrField(p, joinPath(joinPath(joinPath('spec', f), i), 'cidr'), c.cidr);
    });
  }
  checkIntRange(p, 'spec.listenPort', spec.listenPort, 1, 65535, 'listenPort');
  checkOneOf(p, 'spec.bindMode', spec.bindMode, ['None', 'NodeIP'] as const);
  checkOneOf(p, 'spec.programClusterRoutes', spec.programClusterRoutes, ['Enabled', 'Disabled'] as const);
  const names = new Set<string>();
  if (Array.isArray(spec.communities)) {
    spec.communities.forEach((c, i) => {
      if (!isRecord(c)) return;
      const at = joinPath('spec.communities', i);
      if (typeof c.name !== 'string' || c.name === '') p.add(joinPath(at, 'name'), 'community name is required');
      else names.add(c.name);
      checkCommunityValue(p, joinPath(at, 'value'), c.value);
    });
  }
  if (Array.isArray(spec.prefixAdvertisements)) {
    spec.prefixAdvertisements.forEach((a, i) => {
      if (!isRecord(a)) return;
      const at = joinPath('spec.prefixAdvertisements', i);
      checkCidrField(p, joinPath(at, 'cidr'), a.cidr);
      if (!Array.isArray(a.communities)) return;
      a.communities.forEach((c, j) => {
        if (typeof c !== 'string' || names.has(c)) return;
        if (!/^[\d:]+$/.test(c)) {
          p.add(
            joinPath(joinPath(at, 'communities'), j),
            `community ${quote(c)} is neither defined in spec.communities nor a community value`,
          );
        } else checkCommunityValue(p, joinPath(joinPath(at, 'communities'), j), c);
      });
    });
  }
  const prefixAds = Array.isArray(spec.prefixAdvertisements) ? spec.prefixAdvertisements.length : 0;
  if (Array.isArray(spec.communities) && spec.communities.length > 0 && prefixAds === 0) {
    p.add('spec.communities', 'communities are defined but no spec.prefixAdvertisements entry uses them');
  }
  checkPassword(p, 'spec.nodeMeshPassword', spec.nodeMeshPassword);
  checkDuration(p, 'spec.nodeMeshMaxRestartTime', spec.nodeMeshMaxRestartTime);
  if (spec.nodeToNodeMeshEnabled === false) {
    for (const f of ['nodeMeshPassword', 'nodeMeshMaxRestartTime'] as const) {
      if (spec[f] !== undefined && spec[f] !== null)
        p.add(joinPath('spec', f), `${f} cannot be set while nodeToNodeMeshEnabled is false`);
    }
  }
  checkIpField(p, 'spec.localWorkloadPeeringIPV4', spec.localWorkloadPeeringIPV4, 4);
  checkIpField(p, 'spec.localWorkloadPeeringIPV6', spec.localWorkloadPeeringIPV6, 6);
}

/** `IP`, `IPv4:port` or `[IPv6]:port`. */
export function checkPeerIp(p: Problems, path: string, v: unknown): void {
  if (typeof v !== 'string') return;
  const bad = () => p.add(path, `${quote(v)} is not an IP address, "IPv4:port" or "[IPv6]:port"`);
  if (tryParseIp(v)) return;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(v);
  const v4 = /^([\d.]+):(\d+)$/.exec(v);
  const m = v6 ?? v4;
  if (!m) return bad();
  const ip = tryParseIp(m[1]!);
  if (!ip || (v6 !== null) !== (ip.family === 6)) return bad();
  const port = Number(m[2]);
  if (port < 1 || port > 65535) p.add(path, `port ${port} in ${quote(v)} is out of range (1-65535)`);
}

export function validateBGPPeer(p: Problems, spec: Record<string, unknown>): void {
  const set = (f: string) => spec[f] !== undefined && spec[f] !== null && spec[f] !== '';
  if (set('node')) checkSubdomain(p, 'spec.node', spec.node, 'node name');
  checkPeerIp(p, 'spec.peerIP', spec.peerIP);
  checkAsNumber(p, 'spec.asNumber', spec.asNumber);
  checkAsNumber(p, 'spec.localASNumber', spec.localASNumber);
  for (const f of ['nodeSelector', 'peerSelector', 'localWorkloadSelector'] as const) {
    checkSelector(p, joinPath('spec', f), spec[f]);
  }
  if (set('node') && set('nodeSelector')) p.add('spec.nodeSelector', 'node and nodeSelector cannot both be set');
  if (set('peerSelector') && set('peerIP')) p.add('spec.peerIP', 'peerIP must be empty when peerSelector is set');
  if (set('peerSelector') && set('asNumber')) p.add('spec.asNumber', 'asNumber must be empty when peerSelector is set');
  if (set('localWorkloadSelector') && (set('peerSelector') || set('peerIP'))) {
    p.add('spec.localWorkloadSelector', 'localWorkloadSelector cannot be combined with peerSelector or peerIP');
  }
  if (set('peerIP') && !set('asNumber')) p.add('spec.asNumber', 'asNumber is required when peerIP is set');
  if (!set('peerIP') && !set('peerSelector') && !set('localWorkloadSelector')) {
    p.add('spec', 'one of peerIP, peerSelector or localWorkloadSelector is required');
  }
  checkPassword(p, 'spec.password', spec.password);
  checkOneOf(p, 'spec.sourceAddress', spec.sourceAddress, ['UseNodeIP', 'None'] as const);
  checkDuration(p, 'spec.maxRestartTime', spec.maxRestartTime);
  checkIntRange(
    p,
    'spec.numAllowedLocalASNumbers',
    spec.numAllowedLocalASNumbers,
    0,
    2147483647,
    'numAllowedLocalASNumbers',
  );
  checkIntRange(p, 'spec.ttlSecurity', spec.ttlSecurity, 0, 255, 'ttlSecurity');
  if (Array.isArray(spec.filters)) {
    spec.filters.forEach((f, i) => checkSubdomain(p, joinPath('spec.filters', i), f, 'BGPFilter name'));
  }
  const via = checkIpField(p, 'spec.reachableBy', spec.reachableBy);
  if (via && typeof spec.peerIP === 'string') {
    const peer = tryParseIp(spec.peerIP.replace(/^\[(.*)\]:\d+$/, '$1').replace(/^([\d.]+):\d+$/, '$1'));
    if (peer && peer.family !== via.family) {
      p.add(
        'spec.reachableBy',
        `reachableBy ${quote(spec.reachableBy)} and peerIP ${quote(spec.peerIP)} are of different IP families`,
      );
    }
  }
  checkOneOf(p, 'spec.nextHopMode', spec.nextHopMode, ['Auto', 'Self', 'Keep'] as const);
}

function validateFilterRule(p: Problems, path: string, r: unknown, family: 4 | 6): void {
  if (!isRecord(r)) return;
  const bits = family === 4 ? 32 : 128;
  if (r.action === undefined || r.action === null) p.add(joinPath(path, 'action'), 'action is required');
  else checkOneOf(p, joinPath(path, 'action'), r.action, ['Accept', 'Reject'] as const);
  const cidr = checkCidrField(p, joinPath(path, 'cidr'), r.cidr);
  if (cidr && cidr.family !== family) p.add(joinPath(path, 'cidr'), `${quote(r.cidr)} is not an IPv${family} CIDR`);
  const hasCidr = typeof r.cidr === 'string' && r.cidr !== '';
  const hasOp = typeof r.matchOperator === 'string' && r.matchOperator !== '';
  if (hasOp)
    checkOneOf(p, joinPath(path, 'matchOperator'), r.matchOperator, ['In', 'NotIn', 'Equal', 'NotEqual'] as const);
  if (hasCidr && !hasOp) p.add(joinPath(path, 'matchOperator'), 'matchOperator is required when cidr is set');
  if (hasOp && !hasCidr) p.add(joinPath(path, 'cidr'), 'cidr is required when matchOperator is set');
  if (isRecord(r.prefixLength)) {
    const at = joinPath(path, 'prefixLength');
    const { min, max } = r.prefixLength;
    checkIntRange(p, joinPath(at, 'min'), min, 0, bits, 'prefix length min');
    checkIntRange(p, joinPath(at, 'max'), max, 1, bits, 'prefix length max');
    if (typeof min === 'number' && typeof max === 'number' && min > max) {
      p.add(at, `prefix length min ${min} is greater than max ${max}`);
    }
    if (!hasCidr) p.add(joinPath(path, 'cidr'), 'cidr is required when prefixLength is set');
  }
  // Calico's bgpFilterInterface: "*" or 1-15 of letters, digits, '_', '.', '*' and '-'.
  if (typeof r.interface === 'string' && r.interface !== '' && !/^[a-zA-Z0-9_.*-]{1,15}$/.test(r.interface)) {
    p.add(
      joinPath(path, 'interface'),
      `${quote(r.interface)} is not an interface name or pattern (1-15 of letters, digits, '_', '.', '*', '-')`,
    );
  }
  checkOneOf(p, joinPath(path, 'source'), r.source, ['RemotePeers'] as const);
  checkOneOf(p, joinPath(path, 'peerType'), r.peerType, ['eBGP', 'iBGP'] as const);
  checkIntRange(p, joinPath(path, 'priority'), r.priority, 1, 2147483646, 'priority');
  if (isRecord(r.communities) && Array.isArray(r.communities.values)) {
    r.communities.values.forEach((c, i) =>
      checkCommunityValue(p, joinPath(joinPath(joinPath(path, 'communities'), 'values'), i), c),
    );
  }
  if (Array.isArray(r.operations)) {
    const at = joinPath(path, 'operations');
    if (r.action !== 'Accept' && r.operations.length > 0) p.add(at, 'operations are only valid with action "Accept"');
    if (r.operations.length > 10) p.add(at, `at most 10 operations, got ${r.operations.length}`);
    r.operations.forEach((op, i) => {
      if (!isRecord(op)) return;
      const opAt = joinPath(at, i);
      const keys = Object.keys(op).filter((k) => op[k] !== null && op[k] !== undefined);
      if (keys.length !== 1) p.add(opAt, 'set exactly one of addCommunity, prependASPath, setPriority');
      if (isRecord(op.addCommunity))
        checkCommunityValue(p, joinPath(joinPath(opAt, 'addCommunity'), 'value'), op.addCommunity.value);
      if (isRecord(op.prependASPath) && Array.isArray(op.prependASPath.prefix)) {
        const pre = op.prependASPath.prefix;
        const preAt = joinPath(joinPath(opAt, 'prependASPath'), 'prefix');
        if (pre.length < 1 || pre.length > 10) p.add(preAt, `prefix needs 1-10 AS numbers, got ${pre.length}`);
        pre.forEach((as, j) => checkAsNumber(p, joinPath(preAt, j), as));
      }
      if (isRecord(op.setPriority)) {
        checkIntRange(
          p,
          joinPath(joinPath(opAt, 'setPriority'), 'value'),
          op.setPriority.value,
          1,
          2147483646,
          'priority',
        );
      }
    });
  }
}

export function validateBGPFilter(p: Problems, spec: Record<string, unknown>): void {
  for (const [field, family] of [
    ['exportV4', 4],
    ['importV4', 4],
    ['exportV6', 6],
    ['importV6', 6],
  ] as const) {
    const list = spec[field];
    if (Array.isArray(list))
      list.forEach((r, i) => validateFilterRule(p, joinPath(joinPath('spec', field), i), r, family));
  }
}
