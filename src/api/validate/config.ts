/** FelixConfiguration, KubeControllersConfiguration, ClusterInformation. */
import { LOG_SEVERITIES, checkCidrField, checkDuration, checkIntRange, checkOneOf, type Problems } from './common.js';
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
