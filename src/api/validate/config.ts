/** FelixConfiguration, KubeControllersConfiguration, ClusterInformation. */
import {
  LOG_SEVERITIES,
  checkCidrField,
  checkDnsLabel,
  checkDuration,
  checkIntRange,
  checkIpField,
  checkOneOf,
  type Problems,
} from './common.js';
import { isRecord, joinPath, quote } from './shape.js';

function checkConfigName(p: Problems, kind: string, name: string, allowNode: boolean): void {
  if (name === 'default' || (allowNode && name.startsWith('node.') && name.length > 5)) return;
  p.add(
    'metadata.name',
    allowNode
      ? `${kind} must be named "default" or "node.<nodename>", got ${quote(name)}`
      : `${kind} is a singleton named "default", got ${quote(name)}`,
  );
}

const DURATIONS = [
  'routeRefreshInterval',
  'interfaceRefreshInterval',
  'iptablesRefreshInterval',
  'ipsetsRefreshInterval',
  'nftablesRefreshInterval',
  'reportingInterval',
  'reportingTTL',
  'netlinkTimeout',
] as const;

export function validateFelixConfiguration(p: Problems, spec: Record<string, unknown>, name: string): void {
  checkConfigName(p, 'FelixConfiguration', name, true);
  for (const f of ['logSeverityScreen', 'logSeverityFile', 'logSeveritySys'] as const) {
    checkOneOf(p, joinPath('spec', f), spec[f], [...LOG_SEVERITIES, 'None'] as const);
  }
  for (const f of DURATIONS) checkDuration(p, joinPath('spec', f), spec[f]);
  for (const f of ['healthPort', 'prometheusMetricsPort', 'vxlanPort', 'wireguardListeningPort'] as const) {
    checkIntRange(p, joinPath('spec', f), spec[f], 1, 65535, f);
  }
  for (const f of ['ipipMTU', 'vxlanMTU', 'vxlanMTUV6', 'wireguardMTU'] as const) {
    checkIntRange(p, joinPath('spec', f), spec[f], 0, 65535, f);
  }
  checkIntRange(p, 'spec.vxlanVNI', spec.vxlanVNI, 1, 16777215, 'vxlanVNI');
  checkOneOf(p, 'spec.defaultEndpointToHostAction', spec.defaultEndpointToHostAction, [
    'Drop',
    'Accept',
    'Return',
  ] as const);
  checkOneOf(p, 'spec.nftablesMode', spec.nftablesMode, ['Enabled', 'Disabled', 'Auto'] as const);
  checkOneOf(p, 'spec.routeSource', spec.routeSource, ['WorkloadIPs', 'CalicoIPAM'] as const);
  for (const f of ['failsafeInboundHostPorts', 'failsafeOutboundHostPorts'] as const) {
    const list = spec[f];
    if (!Array.isArray(list)) continue;
    list.forEach((pp, i) => {
      if (!isRecord(pp)) return;
      const at = joinPath(joinPath('spec', f), i);
      checkOneOf(p, joinPath(at, 'protocol'), pp.protocol, ['TCP', 'UDP', 'SCTP', 'tcp', 'udp', 'sctp'] as const);
      checkIntRange(p, joinPath(at, 'port'), pp.port, 0, 65535, 'port');
      if (typeof pp.net === 'string' && pp.net !== '')
        checkCidrField(p, joinPath(at, 'net'), pp.net, { allowBareIp: true });
    });
  }
  checkIpField(p, 'spec.natOutgoingAddress', spec.natOutgoingAddress || undefined, 4);
  checkIpField(p, 'spec.deviceRouteSourceAddress', spec.deviceRouteSourceAddress || undefined, 4);
  checkIpField(p, 'spec.deviceRouteSourceAddressIPv6', spec.deviceRouteSourceAddressIPv6 || undefined, 6);
  if (Array.isArray(spec.externalNodesList)) {
    spec.externalNodesList.forEach((c, i) => {
      const at = joinPath('spec.externalNodesList', i);
      const cidr = checkCidrField(p, at, c, { allowBareIp: true, strict: false });
      if (cidr && cidr.family !== 4) p.add(at, `${quote(c)} is not an IPv4 CIDR (externalNodesList is IPv4 only)`);
    });
  }
  // Felix names a namespace "openstack-region-<region>", which must stay a DNS label.
  if (typeof spec.openstackRegion === 'string' && spec.openstackRegion !== '') {
    if (spec.openstackRegion.length > 46)
      p.add('spec.openstackRegion', `openstackRegion ${quote(spec.openstackRegion)} is longer than 46 characters`);
    else checkDnsLabel(p, 'spec.openstackRegion', spec.openstackRegion, 'openstackRegion');
  }
  if (Array.isArray(spec.kubeNodePortRanges)) {
    if (spec.kubeNodePortRanges.length > 7)
      p.add('spec.kubeNodePortRanges', `at most 7 node port ranges, got ${spec.kubeNodePortRanges.length}`);
    spec.kubeNodePortRanges.forEach((r, i) => {
      if (typeof r === 'string' && !/^\d+(:\d+)?$/.test(r))
        p.add(joinPath('spec.kubeNodePortRanges', i), `${quote(r)} is a named port; node port ranges are numeric`);
    });
  }
  if (spec.routeTableRange !== undefined && spec.routeTableRange !== null && Array.isArray(spec.routeTableRanges)) {
    p.add('spec.routeTableRange', 'routeTableRange cannot be set when routeTableRanges is also set');
  }
  if (Array.isArray(spec.routeTableRanges)) {
    spec.routeTableRanges.forEach((r, i) => {
      if (!isRecord(r)) return;
      const at = joinPath('spec.routeTableRanges', i);
      checkIntRange(p, joinPath(at, 'min'), r.min, 1, 4294967295, 'route table index');
      checkIntRange(p, joinPath(at, 'max'), r.max, 1, 4294967295, 'route table index');
      if (typeof r.min === 'number' && typeof r.max === 'number' && r.min > r.max)
        p.add(at, `min ${r.min} is greater than max ${r.max}`);
    });
  }
  if (Array.isArray(spec.healthTimeoutOverrides)) {
    spec.healthTimeoutOverrides.forEach((o, i) => {
      if (!isRecord(o)) return;
      const at = joinPath('spec.healthTimeoutOverrides', i);
      if (typeof o.name === 'string' && !/^[a-zA-Z0-9_ -]+$/.test(o.name))
        p.add(
          joinPath(at, 'name'),
          `health timeout override name ${quote(o.name)} may only have letters, digits, '_', '-' and spaces`,
        );
      if (typeof o.timeout === 'string' && o.timeout.startsWith('-'))
        p.add(joinPath(at, 'timeout'), `timeout ${quote(o.timeout)} must not be negative`);
      else checkDuration(p, joinPath(at, 'timeout'), o.timeout);
    });
  }
  if (isRecord(spec.routeTableRange)) {
    const { min, max } = spec.routeTableRange;
    checkIntRange(p, 'spec.routeTableRange.min', min, 1, 250, 'routeTableRange.min');
    checkIntRange(p, 'spec.routeTableRange.max', max, 1, 250, 'routeTableRange.max');
    if (typeof min === 'number' && typeof max === 'number' && min > max) {
      p.add('spec.routeTableRange', `min ${min} is greater than max ${max}`);
    }
  }
}

export function validateKubeControllersConfiguration(p: Problems, spec: Record<string, unknown>, name: string): void {
  checkConfigName(p, 'KubeControllersConfiguration', name, false);
  checkOneOf(p, 'spec.logSeverityScreen', spec.logSeverityScreen, LOG_SEVERITIES);
  checkOneOf(p, 'spec.healthChecks', spec.healthChecks, ['Enabled', 'Disabled'] as const);
  checkIntRange(p, 'spec.prometheusMetricsPort', spec.prometheusMetricsPort, 0, 65535, 'prometheusMetricsPort');
  checkIntRange(p, 'spec.debugProfilePort', spec.debugProfilePort, 0, 65535, 'debugProfilePort');
  checkDuration(p, 'spec.etcdV3CompactionPeriod', spec.etcdV3CompactionPeriod);
  checkDuration(p, 'spec.etcdv3CompactionPeriod', spec.etcdv3CompactionPeriod);
  const c = spec.controllers;
  if (!isRecord(c)) return;
  for (const [k, v] of Object.entries(c)) {
    if (!isRecord(v)) continue;
    const at = joinPath('spec.controllers', k);
    checkDuration(p, joinPath(at, 'reconcilerPeriod'), v.reconcilerPeriod);
    checkDuration(p, joinPath(at, 'leakGracePeriod'), v.leakGracePeriod);
    checkOneOf(p, joinPath(at, 'syncLabels'), v.syncLabels, ['Enabled', 'Disabled'] as const);
    if (isRecord(v.hostEndpoint)) {
      checkOneOf(p, joinPath(joinPath(at, 'hostEndpoint'), 'autoCreate'), v.hostEndpoint.autoCreate, [
        'Enabled',
        'Disabled',
      ] as const);
    }
    checkOneOf(p, joinPath(at, 'assignIPs'), v.assignIPs, ['AllServices', 'RequestedServicesOnly'] as const);
  }
}

export function validateClusterInformation(p: Problems, _spec: Record<string, unknown>, name: string): void {
  checkConfigName(p, 'ClusterInformation', name, false);
}
