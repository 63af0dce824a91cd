/**
 * The field schema of every kind, for strict decoding. Keep in step with types/*.ts: a field typed
 * there but missing here is rejected as unknown, which a round-trip test over the examples catches.
 */
import { anyValue, arr, bool, int, intOrString, map, num, obj, openObj, str, type Shape } from './shape.js';

const strMap = map(str);
const strList = arr(str);

export const METADATA: Shape = obj({
  name: str,
  generateName: str,
  namespace: str,
  labels: strMap,
  annotations: strMap,
  resourceVersion: str,
  uid: str,
  creationTimestamp: str,
  deletionTimestamp: str,
  deletionGracePeriodSeconds: int,
  generation: int,
  finalizers: strList,
  ownerReferences: arr(anyValue),
  managedFields: arr(anyValue),
});

const icmp = obj({ type: int, code: int });
const entityRule = obj({
  nets: strList,
  notNets: strList,
  selector: str,
  notSelector: str,
  namespaceSelector: str,
  ports: arr(intOrString),
  notPorts: arr(intOrString),
  serviceAccounts: obj({ names: strList, selector: str }),
  services: obj({ name: str, namespace: str }),
});
export const RULE: Shape = obj({
  action: str,
  protocol: intOrString,
  notProtocol: intOrString,
  icmp,
  notICMP: icmp,
  ipVersion: int,
  source: entityRule,
  destination: entityRule,
  http: obj({ methods: strList, paths: arr(obj({ exact: str, prefix: str })) }),
  metadata: obj({ annotations: strMap }),
});

const policyCommon = {
  tier: str,
  order: num,
  selector: str,
  serviceAccountSelector: str,
  types: strList,
  ingress: arr(RULE),
  egress: arr(RULE),
  performanceHints: strList,
};

const password = obj({ secretKeyRef: obj({ name: str, key: str }) });
const serviceCidrs = arr(obj({ cidr: str }));
const bgpFilterRule = obj({
  cidr: str,
  prefixLength: obj({ min: int, max: int }),
  matchOperator: str,
  source: str,
  interface: str,
  peerType: str,
  priority: int,
  communities: obj({ values: strList }),
  action: str,
  operations: arr(
    obj({
      addCommunity: obj({ value: str }),
      prependASPath: obj({ prefix: arr(intOrString) }),
      setPriority: obj({ value: int }),
    }),
  ),
});
const endpointPort = obj({ name: str, protocol: str, port: int, hostPort: int, hostIP: str });
const reconciler = obj({ reconcilerPeriod: str });
const protoPorts = arr(obj({ protocol: str, port: int, net: str }));

/**
 * Every FelixConfiguration setting Calico's v3 API accepts, by type. Values are not checked beyond
 * their JSON type except for the handful Tessera itself reads (validate/config.ts).
 */
const FELIX_BOOL = [
  'useInternalDataplaneDriver',
  'ipv6Support',
  'ipipEnabled',
  'vxlanEnabled',
  'allowVXLANPacketsFromWorkloads',
  'allowIPIPPacketsFromWorkloads',
  'endpointReportingEnabled',
  'disableConntrackInvalidCheck',
  'healthEnabled',
  'prometheusMetricsEnabled',
  'prometheusGoMetricsEnabled',
  'prometheusProcessMetricsEnabled',
  'prometheusWireGuardMetricsEnabled',
  'usageReportingEnabled',
  'removeExternalRoutes',
  'debugDisableLogDropping',
  'sidecarAccelerationEnabled',
  'xdpEnabled',
  'genericXDPEnabled',
  'bpfEnabled',
  'bpfDisableUnprivileged',
  'bpfConnectTimeLoadBalancingEnabled',
  'bpfKubeProxyIptablesCleanupEnabled',
  'bpfKubeProxyEndpointSlicesEnabled',
  'bpfPolicyDebugEnabled',
  'bpfHostConntrackBypass',
  'wireguardEnabled',
  'wireguardEnabledV6',
  'wireguardHostEncryptionEnabled',
  'wireguardThreadingEnabled',
  'routeSyncDisabled',
  'requireMTUFile',
] as const;
const FELIX_INT = [
  'maxIpsetSize',
  'metadataPort',
  'ipipMTU',
  'vxlanMTU',
  'vxlanMTUV6',
  'vxlanPort',
  'vxlanVNI',
  'iptablesMarkMask',
  'nftablesMarkMask',
  'healthPort',
  'prometheusMetricsPort',
  'deviceRouteProtocol',
  'bpfExtToServiceConnmark',
  'bpfMapSizeConntrack',
  'bpfMapSizeNATFrontend',
  'bpfMapSizeNATBackend',
  'bpfMapSizeNATAffinity',
  'bpfMapSizeRoute',
  'bpfMapSizeIPSets',
  'bpfMapSizeIfState',
  'bpfMapSizePerCpuConntrack',
  'bpfMapSizeConntrackCleanupQueue',
  'bpfMaglevMaxEndpointsPerService',
  'bpfMaglevMaxServices',
  'bpfKubeProxyHealthzPort',
  'bpfExportBufferSizeMB',
  'wireguardListeningPort',
  'wireguardListeningPortV6',
  'wireguardRoutingRulePriority',
  'wireguardMTU',
  'wireguardMTUV6',
  'logActionRateLimitBurst',
  'goGCThreshold',
  'goMemoryLimitMB',
  'goMaxProcs',
  'debugPort',
] as const;
const FELIX_STRING = [
  'dataplaneDriver',
  'routeRefreshInterval',
  'interfaceRefreshInterval',
  'iptablesRefreshInterval',
  'iptablesPostWriteCheckInterval',
  'iptablesLockFilePath',
  'iptablesLockTimeout',
  'iptablesLockProbeInterval',
  'featureDetectOverride',
  'featureGates',
  'ipsetsRefreshInterval',
  'iptablesBackend',
  'xdpRefreshInterval',
  'netlinkTimeout',
  'metadataAddr',
  'openstackRegion',
  'interfacePrefix',
  'interfaceExclude',
  'chainInsertMode',
  'defaultEndpointToHostAction',
  'iptablesFilterAllowAction',
  'iptablesMangleAllowAction',
  'iptablesFilterDenyAction',
  'nftablesFilterAllowAction',
  'nftablesMangleAllowAction',
  'nftablesFilterDenyAction',
  'nftablesRefreshInterval',
  'nftablesMode',
  'logPrefix',
  'logFilePath',
  'logSeverityFile',
  'logSeverityScreen',
  'logSeveritySys',
  'logDebugFilenameRegex',
  'logActionRateLimit',
  'logDropActionOverride',
  'reportingInterval',
  'reportingTTL',
  'endpointReportingDelay',
  'endpointStatusPathPrefix',
  'healthHost',
  'prometheusMetricsHost',
  'policySyncPathPrefix',
  'usageReportingInitialDelay',
  'usageReportingInterval',
  'natOutgoingAddress',
  'deviceRouteSourceAddress',
  'deviceRouteSourceAddressIPv6',
  'debugMemoryProfilePath',
  'debugSimulateCalcGraphHangAfter',
  'debugSimulateDataplaneHangAfter',
  'debugSimulateDataplaneApplyDelay',
  'iptablesNATOutgoingInterfaceFilter',
  'bpfLogLevel',
  'bpfDataIfacePattern',
  'bpfL3IfacePattern',
  'bpfExternalServiceMode',
  'bpfKubeProxyMinSyncPeriod',
  'bpfConnectTimeLoadBalancing',
  'bpfEnforceRPF',
  'bpfPSNATPorts',
  'bpfAttachType',
  'bpfConntrackLogLevel',
  'bpfConntrackMode',
  'bpfCTLBLogFilter',
  'bpfProfiling',
  'routeSource',
  'wireguardInterfaceName',
  'wireguardInterfaceNameV6',
  'wireguardKeepAlive',
  'awsSrcDstCheck',
  'serviceLoopPrevention',
  'mtuIfacePattern',
  'floatingIPs',
  'workloadSourceSpoofing',
  'natOutgoingExclusions',
  'programClusterRoutes',
  'cgroupV2Path',
  'dataplaneWatchdogTimeout',
  'flowLogsFlushInterval',
  'flowLogsGoldmaneServer',
  'flowLogsPolicyEvaluationMode',
  'ipForwarding',
  'debugHost',
  'bpfRedirectToPeerMode',
  'liveMigrationRouteConvergenceTime',
  'bpfHostNetworkedNATWithoutCTLB',
  'bpfRedirectToPeer',
  'bpfJITHardening',
  'bpfMapSizeConntrackScaling',
  'flowLogsLocalReporter',
  'prometheusMetricsCAFile',
  'prometheusMetricsCertFile',
  'prometheusMetricsClientAuth',
  'prometheusMetricsKeyFile',
  'windowsManageFirewallRules',
] as const;
const felixFields: Record<string, Shape> = {
  failsafeInboundHostPorts: protoPorts,
  failsafeOutboundHostPorts: protoPorts,
  kubeNodePortRanges: arr(intOrString),
  natPortRange: intOrString,
  externalNodesList: strList,
  routeTableRange: obj({ min: int, max: int }),
  routeTableRanges: arr(obj({ min: int, max: int })),
  bpfDSROptoutCIDRs: strList,
  bpfForceTrackPacketsFromIfaces: strList,
  bpfDisableGROForIfaces: str,
  bpfExcludeCIDRsFromNAT: strList,
  bpfLogFilters: strMap,
  bpfConntrackTimeouts: obj({
    creationGracePeriod: str,
    tcpSynSent: str,
    tcpEstablished: str,
    tcpFinsSeen: str,
    tcpResetSeen: str,
    udpTimeout: str,
    genericTimeout: str,
    icmpTimeout: str,
  }),
  healthTimeoutOverrides: arr(obj({ name: str, timeout: str })),
  flowLogsCollectorDebugTrace: bool,
};
for (const f of FELIX_BOOL) felixFields[f] = bool;
for (const f of FELIX_INT) felixFields[f] = int;
for (const f of FELIX_STRING) felixFields[f] = str;

const KCC_SPEC: Shape = obj({
  logSeverityScreen: str,
  healthChecks: str,
  prometheusMetricsPort: int,
  etcdV3CompactionPeriod: str,
  etcdv3CompactionPeriod: str, // the docs' spelling; applyDefaults renames it
  debugProfilePort: int,
  controllers: obj({
    node: obj({
      reconcilerPeriod: str,
      syncLabels: str,
      hostEndpoint: obj({
        autoCreate: str,
        createDefaultHostEndpoint: str,
        templates: arr(
          obj({ generateName: str, interfaceCIDRs: strList, interfacePattern: str, labels: strMap, nodeSelector: str }),
        ),
      }),
      leakGracePeriod: str,
    }),
    policy: reconciler,
    workloadEndpoint: reconciler,
    serviceAccount: reconciler,
    namespace: reconciler,
    loadBalancer: obj({ assignIPs: str }),
    policyMigration: obj({ enabled: str }),
  }),
});

/** Spec (and for some kinds, status and extra top-level fields) per kind key `apiVersion/kind`. */
export interface KindSchema {
  spec?: Shape;
  status?: Shape;
  /** Top-level fields besides apiVersion/kind/metadata/spec/status (ServiceAccount). */
  extra?: Record<string, Shape>;
}

const C = 'projectcalico.org/v3/';
const k8sSelector = obj({
  matchLabels: strMap,
  matchExpressions: arr(obj({ key: str, operator: str, values: strList })),
});
const k8sPorts = arr(obj({ protocol: str, port: intOrString, endPort: int }));
const k8sPeers = arr(
  obj({ podSelector: k8sSelector, namespaceSelector: k8sSelector, ipBlock: obj({ cidr: str, except: strList }) }),
);

export const SCHEMAS: Readonly<Record<string, KindSchema>> = {
  [`${C}IPPool`]: {
    spec: obj({
      cidr: str,
      blockSize: int,
      ipipMode: str,
      vxlanMode: str,
      natOutgoing: bool,
      disabled: bool,
      disableBGPExport: bool,
      nodeSelector: str,
      allowedUses: strList,
      assignmentMode: str,
    }),
  },
  [`${C}IPReservation`]: { spec: obj({ reservedCIDRs: strList }) },
  [`${C}IPAMConfiguration`]: { spec: obj({ strictAffinity: bool, maxBlocksPerHost: int, autoAllocateBlocks: bool }) },
  [`${C}BGPConfiguration`]: {
    spec: obj({
      logSeverityScreen: str,
      nodeToNodeMeshEnabled: bool,
      asNumber: intOrString,
      serviceClusterIPs: serviceCidrs,
      serviceExternalIPs: serviceCidrs,
      serviceLoadBalancerIPs: serviceCidrs,
      listenPort: int,
      bindMode: str,
      communities: arr(obj({ name: str, value: str })),
      prefixAdvertisements: arr(obj({ cidr: str, communities: strList })),
      nodeMeshPassword: password,
      nodeMeshMaxRestartTime: str,
      ignoredInterfaces: strList,
      localWorkloadPeeringIPV4: str,
      localWorkloadPeeringIPV6: str,
      programClusterRoutes: str,
    }),
  },
  [`${C}BGPPeer`]: {
    spec: obj({
      node: str,
      peerIP: str,
      asNumber: intOrString,
      localASNumber: intOrString,
      nodeSelector: str,
      peerSelector: str,
      localWorkloadSelector: str,
      keepOriginalNextHop: bool,
      password,
      sourceAddress: str,
      maxRestartTime: str,
      numAllowedLocalASNumbers: int,
      ttlSecurity: int,
      filters: strList,
      reachableBy: str,
      nextHopMode: str,
    }),
  },
  [`${C}BGPFilter`]: {
    spec: obj({
      exportV4: arr(bgpFilterRule),
      importV4: arr(bgpFilterRule),
      exportV6: arr(bgpFilterRule),
      importV6: arr(bgpFilterRule),
    }),
  },
  [`${C}FelixConfiguration`]: { spec: obj(felixFields) },
  [`${C}KubeControllersConfiguration`]: {
    spec: KCC_SPEC,
    // What kube-controllers runs with: Calico's KubeControllersConfigurationStatus.
    status: obj({ runningConfig: KCC_SPEC, environmentVars: strMap }),
  },
  [`${C}ClusterInformation`]: {
    spec: obj({ clusterGUID: str, clusterType: str, calicoVersion: str, datastoreReady: bool, variant: str }),
  },
  [`${C}Node`]: {
    spec: obj({
      bgp: obj({
        asNumber: intOrString,
        ipv4Address: str,
        ipv6Address: str,
        ipv4IPIPTunnelAddr: str,
        routeReflectorClusterID: str,
      }),
      ipv4VXLANTunnelAddr: str,
      vxlanTunnelMACAddr: str,
      ipv6VXLANTunnelAddr: str,
      vxlanTunnelMACAddrV6: str,
      orchRefs: arr(obj({ nodeName: str, orchestrator: str })),
      wireguard: obj({ interfaceIPv4Address: str, interfaceIPv6Address: str }),
      addresses: arr(obj({ address: str, type: str })),
    }),
    // Calico's NodeStatus fields, plus the conditions the Tessera agent publishes (Ready,
    // DataplaneProblems), so what `get node -o yaml` prints validates.
    status: obj({
      wireguardPublicKey: str,
      wireguardPublicKeyV6: str,
      podCIDRs: strList,
      conditions: arr(
        obj({ type: str, status: str, reason: str, message: str, lastTransitionTime: str, lastHeartbeatTime: str }),
      ),
    }),
  },
  [`${C}CalicoNodeStatus`]: {
    spec: obj({ node: str, classes: strList, updatePeriodSeconds: int }),
    status: anyValue,
  },
  [`${C}HostEndpoint`]: {
    spec: obj({ node: str, interfaceName: str, expectedIPs: strList, profiles: strList, ports: arr(endpointPort) }),
  },
  [`${C}WorkloadEndpoint`]: {
    spec: obj({
      workload: str,
      orchestrator: str,
      node: str,
      containerID: str,
      pod: str,
      endpoint: str,
      serviceAccountName: str,
      ipNetworks: strList,
      ipNATs: arr(obj({ internalIP: str, externalIP: str })),
      ipv4Gateway: str,
      ipv6Gateway: str,
      profiles: strList,
      interfaceName: str,
      mac: str,
      ports: arr(endpointPort),
      allowSpoofedSourcePrefixes: strList,
    }),
  },
  [`${C}NetworkPolicy`]: { spec: obj(policyCommon) },
  [`${C}GlobalNetworkPolicy`]: {
    spec: obj({ ...policyCommon, namespaceSelector: str, doNotTrack: bool, preDNAT: bool, applyOnForward: bool }),
  },
  [`${C}NetworkSet`]: { spec: obj({ nets: strList }) },
  [`${C}GlobalNetworkSet`]: { spec: obj({ nets: strList }) },
  [`${C}Profile`]: { spec: obj({ ingress: arr(RULE), egress: arr(RULE), labelsToApply: strMap }) },
  [`${C}Tier`]: { spec: obj({ order: num, defaultAction: str }) },
  'v1/Namespace': { spec: obj({ finalizers: strList }), status: anyValue },
  'v1/Pod': {
    spec: openObj({
      nodeName: str,
      serviceAccountName: str,
      hostNetwork: bool,
      containers: arr(
        openObj({
          name: str,
          image: str,
          ports: arr(obj({ name: str, containerPort: int, protocol: str, hostPort: int, hostIP: str })),
        }),
      ),
    }),
    status: openObj({ phase: str, podIP: str, podIPs: arr(obj({ ip: str })), hostIP: str }),
  },
  'v1/ServiceAccount': {
    extra: {
      automountServiceAccountToken: bool,
      secrets: arr(obj({ name: str, namespace: str, kind: str, apiVersion: str, uid: str })),
      imagePullSecrets: arr(obj({ name: str })),
    },
  },
  'networking.k8s.io/v1/NetworkPolicy': {
    spec: obj({
      podSelector: k8sSelector,
      policyTypes: strList,
      ingress: arr(obj({ ports: k8sPorts, from: k8sPeers })),
      egress: arr(obj({ ports: k8sPorts, to: k8sPeers })),
    }),
    status: anyValue,
  },
};
