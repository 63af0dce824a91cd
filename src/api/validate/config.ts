/** FelixConfiguration, KubeControllersConfiguration, ClusterInformation. */
import {
  LOG_SEVERITIES,
  checkCidrField,
  checkDnsLabel,
  checkLabels,
  checkSelector,
  checkSubdomain,
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

/** Every FelixConfiguration duration (metav1.Duration in Calico's types). */
const DURATIONS = [
  'routeRefreshInterval',
  'interfaceRefreshInterval',
  'iptablesRefreshInterval',
  'iptablesPostWriteCheckInterval',
  'iptablesLockTimeout',
  'iptablesLockProbeInterval',
  'ipsetsRefreshInterval',
  'nftablesRefreshInterval',
  'xdpRefreshInterval',
  'netlinkTimeout',
  'reportingInterval',
  'reportingTTL',
  'endpointReportingDelay',
  'usageReportingInitialDelay',
  'usageReportingInterval',
  'dataplaneWatchdogTimeout',
  'debugSimulateCalcGraphHangAfter',
  'debugSimulateDataplaneHangAfter',
  'debugSimulateDataplaneApplyDelay',
  'bpfKubeProxyMinSyncPeriod',
  'wireguardKeepAlive',
  'flowLogsFlushInterval',
  'liveMigrationRouteConvergenceTime',
] as const;

/**
 * FelixConfiguration's enum fields, each as Calico checks it. `exact`: the CRD's `enum` or a
 * case-sensitive validator regex (validator.go's logLevel, dropAcceptReturn, acceptReturn,
 * dropReject, bpfLogLevel, bpfServiceMode, iptablesBackend, bpfConnectTimeLoadBalancing,
 * bpfHostNetworkedNAT), which calicoctl applies on top of the CRD's case-insensitive pattern.
 * `anyCase`: only the CRD's `^(?i)(...)?$` pattern checks it.
 */
export const FELIX_ENUMS: Readonly<Record<string, { values: readonly string[]; anyCase?: true }>> = {
  logSeverityScreen: { values: LOG_SEVERITIES },
  logSeverityFile: { values: LOG_SEVERITIES },
  logSeveritySys: { values: LOG_SEVERITIES },
  defaultEndpointToHostAction: { values: ['Drop', 'Accept', 'Return'] },
  iptablesFilterAllowAction: { values: ['Accept', 'Return'] },
  iptablesMangleAllowAction: { values: ['Accept', 'Return'] },
  iptablesFilterDenyAction: { values: ['Drop', 'Reject'] },
  iptablesBackend: { values: ['Auto', 'NFT', 'Legacy'] },
  bpfLogLevel: { values: ['Off', 'Info', 'Debug'] },
  bpfExternalServiceMode: { values: ['Tunnel', 'DSR'] },
  bpfConnectTimeLoadBalancing: { values: ['TCP', 'Enabled', 'Disabled'] },
  bpfHostNetworkedNATWithoutCTLB: { values: ['Enabled', 'Disabled'] },
  awsSrcDstCheck: { values: ['DoNothing', 'Enable', 'Disable'] },
  bpfAttachType: { values: ['TC', 'TCX'] },
  bpfConntrackLogLevel: { values: ['Off', 'Debug'] },
  bpfConntrackMode: { values: ['Auto', 'Userspace', 'BPFProgram'] },
  bpfJITHardening: { values: ['Auto', 'Strict'] },
  bpfProfiling: { values: ['Enabled', 'Disabled'] },
  bpfRedirectToPeer: { values: ['Enabled', 'Disabled'] },
  floatingIPs: { values: ['Enabled', 'Disabled'] },
  flowLogsLocalReporter: { values: ['Disabled', 'Enabled'] },
  flowLogsPolicyEvaluationMode: { values: ['None', 'Continuous'] },
  ipForwarding: { values: ['Enabled', 'Disabled'] },
  natOutgoingExclusions: { values: ['IPPoolsOnly', 'IPPoolsAndHostIPs'] },
  nftablesMode: { values: ['Disabled', 'Enabled', 'Auto'] },
  programClusterRoutes: { values: ['Enabled', 'Disabled'] },
  windowsManageFirewallRules: { values: ['Enabled', 'Disabled'] },
  chainInsertMode: { values: ['Insert', 'Append'], anyCase: true },
  routeSource: { values: ['WorkloadIPs', 'CalicoIPAM'], anyCase: true },
  nftablesFilterAllowAction: { values: ['Accept', 'Return'], anyCase: true },
  nftablesMangleAllowAction: { values: ['Accept', 'Return'], anyCase: true },
  nftablesFilterDenyAction: { values: ['Drop', 'Reject'], anyCase: true },
  serviceLoopPrevention: { values: ['Drop', 'Reject', 'Disabled'], anyCase: true },
  workloadSourceSpoofing: { values: ['Disabled', 'Any'], anyCase: true },
  bpfEnforceRPF: { values: ['Disabled', 'Strict', 'Loose'], anyCase: true },
  bpfMapSizeConntrackScaling: { values: ['Disabled', 'DoubleIfFull'], anyCase: true },
};

/** FelixConfiguration string fields with a pattern (CRD `pattern`, or a validator regex). */
export const FELIX_PATTERNS: Readonly<Record<string, { re: RegExp; what: string }>> = {
  featureDetectOverride: {
    re: /^([a-zA-Z0-9-_]+=(true|false|),)*([a-zA-Z0-9-_]+=(true|false|))?$/,
    what: 'a comma-separated list of name=true|false|<empty>',
  },
  featureGates: {
    re: /^([a-zA-Z0-9-_]+=([^=]+),)*([a-zA-Z0-9-_]+=([^=]+))?$/,
    what: 'a comma-separated list of name=value',
  },
  logActionRateLimit: { re: /^[1-9]\d{0,3}\/(?:second|minute|hour|day)$/, what: 'N/second|minute|hour|day, N 1-9999' },
  logPrefix: { re: /^([a-zA-Z0-9%: /_-])*$/, what: "letters, digits, '%', ':', ' ', '/', '_' and '-'" },
  prometheusMetricsHost: { re: /^[a-zA-Z0-9:._+-]{1,64}$/, what: 'a host name or address of at most 64 characters' },
  iptablesNATOutgoingInterfaceFilter: {
    re: /^[a-zA-Z0-9:._+-]{1,15}$/,
    what: "an interface name or pattern (1-15 of letters, digits, ':', '.', '_', '+', '-')",
  },
};

const CONNTRACK_TIMEOUT = /^(([0-9]*(\.[0-9]*)?(ms|s|h|m|us)+)+|Auto)$/;
const INTERFACE_NAME = /^[a-zA-Z0-9_.-]{1,15}$/;

function validateFelixEnumsAndPatterns(p: Problems, spec: Record<string, unknown>): void {
  for (const [f, { values, anyCase }] of Object.entries(FELIX_ENUMS)) {
    const v = spec[f];
    if (typeof v !== 'string' || v === '') continue;
    const ok = anyCase ? values.some((x) => x.toLowerCase() === v.toLowerCase()) : values.includes(v);
    if (!ok)
      p.add(
        joinPath('spec', f),
        `${quote(v)} is not one of ${values.map((a) => JSON.stringify(a)).join(', ')}${anyCase ? ' (any case)' : ''}`,
      );
  }
  for (const [f, { re, what }] of Object.entries(FELIX_PATTERNS)) {
    const v = spec[f];
    if (typeof v === 'string' && v !== '' && !re.test(v)) p.add(joinPath('spec', f), `${quote(v)} is not ${what}`);
  }
  for (const f of DURATIONS) checkDuration(p, joinPath('spec', f), spec[f]);
  checkIntRange(p, 'spec.logActionRateLimitBurst', spec.logActionRateLimitBurst, 0, 9999, 'logActionRateLimitBurst');
  checkIntRange(
    p,
    'spec.bpfExtToServiceConnmark',
    spec.bpfExtToServiceConnmark,
    0,
    4294967295,
    'bpfExtToServiceConnmark',
  );
  checkIntRange(
    p,
    'spec.bpfMapSizeConntrackCleanupQueue',
    spec.bpfMapSizeConntrackCleanupQueue,
    1,
    Number.MAX_SAFE_INTEGER,
    'bpfMapSizeConntrackCleanupQueue',
  );
  if (isRecord(spec.bpfConntrackTimeouts)) {
    for (const [k, v] of Object.entries(spec.bpfConntrackTimeouts)) {
      if (typeof v === 'string' && !CONNTRACK_TIMEOUT.test(v))
        p.add(joinPath('spec.bpfConntrackTimeouts', k), `${quote(v)} is not a duration or "Auto"`);
    }
  }
  if (isRecord(spec.bpfLogFilters)) {
    for (const k of Object.keys(spec.bpfLogFilters)) {
      if (!INTERFACE_NAME.test(k))
        p.add(
          joinPath('spec.bpfLogFilters', k),
          `${quote(k)} is not an interface name (1-15 of letters, digits, '_', '.', '-')`,
        );
    }
  }
}

export function validateFelixConfiguration(p: Problems, spec: Record<string, unknown>, name: string): void {
  checkConfigName(p, 'FelixConfiguration', name, true);
  validateFelixEnumsAndPatterns(p, spec);
  for (const f of ['healthPort', 'prometheusMetricsPort', 'vxlanPort', 'wireguardListeningPort'] as const) {
    checkIntRange(p, joinPath('spec', f), spec[f], 1, 65535, f);
  }
  for (const f of ['ipipMTU', 'vxlanMTU', 'vxlanMTUV6', 'wireguardMTU'] as const) {
    checkIntRange(p, joinPath('spec', f), spec[f], 0, 65535, f);
  }
  checkIntRange(p, 'spec.vxlanVNI', spec.vxlanVNI, 1, 16777215, 'vxlanVNI');
  for (const f of ['failsafeInboundHostPorts', 'failsafeOutboundHostPorts'] as const) {
    const list = spec[f];
    if (!Array.isArray(list)) continue;
    list.forEach((pp, i) => {
      if (!isRecord(pp)) return;
      const at = joinPath(joinPath('spec', f), i);
      // validateProtoPort: exactly TCP, UDP or SCTP (no lower case); the CRD requires the port.
      checkOneOf(p, joinPath(at, 'protocol'), pp.protocol, ['TCP', 'UDP', 'SCTP'] as const);
      if (pp.port === undefined || pp.port === null) p.add(joinPath(at, 'port'), 'port is required');
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

/** KubeControllersConfiguration's own log levels (its CRD enum; not Felix's: no Trace, but None and Panic). */
const KCC_LOG_SEVERITIES = ['None', 'Debug', 'Info', 'Warning', 'Error', 'Fatal', 'Panic'] as const;
const ENABLED_DISABLED = ['Enabled', 'Disabled'] as const;

function validateKccSpec(p: Problems, at: string, spec: Record<string, unknown>): void {
  checkOneOf(p, joinPath(at, 'logSeverityScreen'), spec.logSeverityScreen, KCC_LOG_SEVERITIES);
  checkOneOf(p, joinPath(at, 'healthChecks'), spec.healthChecks, ENABLED_DISABLED);
  checkIntRange(
    p,
    joinPath(at, 'prometheusMetricsPort'),
    spec.prometheusMetricsPort,
    0,
    65535,
    'prometheusMetricsPort',
  );
  checkIntRange(p, joinPath(at, 'debugProfilePort'), spec.debugProfilePort, 0, 65535, 'debugProfilePort');
  checkDuration(p, joinPath(at, 'etcdV3CompactionPeriod'), spec.etcdV3CompactionPeriod);
  checkDuration(p, joinPath(at, 'etcdv3CompactionPeriod'), spec.etcdv3CompactionPeriod);
  const c = spec.controllers;
  if (!isRecord(c)) return;
  for (const [k, v] of Object.entries(c)) {
    if (!isRecord(v)) continue;
    const ctl = joinPath(joinPath(at, 'controllers'), k);
    checkDuration(p, joinPath(ctl, 'reconcilerPeriod'), v.reconcilerPeriod);
    checkDuration(p, joinPath(ctl, 'leakGracePeriod'), v.leakGracePeriod);
    checkOneOf(p, joinPath(ctl, 'syncLabels'), v.syncLabels, ENABLED_DISABLED);
    checkOneOf(p, joinPath(ctl, 'assignIPs'), v.assignIPs, ['AllServices', 'RequestedServicesOnly'] as const);
    checkOneOf(p, joinPath(ctl, 'enabled'), v.enabled, ENABLED_DISABLED);
    if (!isRecord(v.hostEndpoint)) continue;
    const hep = joinPath(ctl, 'hostEndpoint');
    checkOneOf(p, joinPath(hep, 'autoCreate'), v.hostEndpoint.autoCreate, ENABLED_DISABLED);
    checkOneOf(
      p,
      joinPath(hep, 'createDefaultHostEndpoint'),
      v.hostEndpoint.createDefaultHostEndpoint,
      ENABLED_DISABLED,
    );
    const templates = v.hostEndpoint.templates;
    if (!Array.isArray(templates)) continue;
    templates.forEach((t, i) => {
      if (!isRecord(t)) return;
      const tp = joinPath(joinPath(hep, 'templates'), i);
      if (typeof t.generateName === 'string' && t.generateName !== '')
        checkSubdomain(p, joinPath(tp, 'generateName'), t.generateName, 'generateName');
      if (Array.isArray(t.interfaceCIDRs))
        t.interfaceCIDRs.forEach((x, j) =>
          checkCidrField(p, joinPath(joinPath(tp, 'interfaceCIDRs'), j), x, { allowBareIp: true, strict: false }),
        );
      checkLabels(p, joinPath(tp, 'labels'), t.labels);
      if (typeof t.nodeSelector === 'string' && t.nodeSelector !== '')
        checkSelector(p, joinPath(tp, 'nodeSelector'), t.nodeSelector);
    });
  }
}

export function validateKubeControllersConfiguration(
  p: Problems,
  spec: Record<string, unknown>,
  name: string,
  status?: unknown,
): void {
  checkConfigName(p, 'KubeControllersConfiguration', name, false);
  validateKccSpec(p, 'spec', spec);
  if (isRecord(status) && isRecord(status.runningConfig))
    validateKccSpec(p, 'status.runningConfig', status.runningConfig);
}

export function validateClusterInformation(p: Problems, _spec: Record<string, unknown>, name: string): void {
  checkConfigName(p, 'ClusterInformation', name, false);
}
