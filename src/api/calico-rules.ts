/**
 * The Calico validation rules walked for parity (libcalico-go `lib/validator/v3/validator.go`, the
 * `validate:` tags of the projectcalico.org/v3 API types, and the CRD rules that replaced some of
 * them), kind by kind, with what Tessera does about each:
 * - `fixture`: enforced; the named file in testdata/invalid/ is rejected at the rule's path
 *   (invalid.test.ts), and `accepts` names a file in testdata/valid/ Calico accepts, when useful;
 * - `differs`: Tessera deliberately does something else, and says why;
 * - `notApplicable`: the rule is about something Tessera does not have.
 * calico-rules.test.ts checks that every named file exists and renders docs/calico-rules.md.
 */

export type CalicoRuleStatus =
  | { fixture: string; accepts?: string }
  | { differs: string; fixture?: string; accepts?: string }
  | { notApplicable: string };

export interface CalicoRule {
  /** Kinds the rule applies to (`Rule` = the rules of NetworkPolicy, GlobalNetworkPolicy, Profile). */
  kind: string;
  field: string;
  /** The rule as Calico states or enforces it. */
  calico: string;
  tessera: CalicoRuleStatus;
}

const POLICY = 'NetworkPolicy, GlobalNetworkPolicy';
const RULE = 'Rule (NetworkPolicy, GlobalNetworkPolicy, Profile)';

export const CALICO_RULES: readonly CalicoRule[] = [
  // Rules and entity rules (validateRule, validateEntityRule, validateICMPFields, validatePort, tags).
  {
    kind: RULE,
    field: 'action',
    calico: 'one of Allow, Deny, Log, Pass (required)',
    tessera: { fixture: 'rule-bad-action.yaml' },
  },
  { kind: RULE, field: 'ipVersion', calico: '4 or 6', tessera: { fixture: 'rule-bad-ipversion.yaml' } },
  {
    kind: RULE,
    field: 'protocol, notProtocol',
    calico:
      'a number 1-255 ("protocol number invalid") or TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite ("protocol name invalid")',
    tessera: { fixture: 'rule-bad-protocol.yaml', accepts: 'rules-calico-accepts.yaml' },
  },
  {
    kind: RULE,
    field: 'protocol (case)',
    calico:
      'names match ^(TCP|UDP|ICMP|ICMPv6|SCTP|UDPLite)$ case-sensitively (protocolRegex); the JSON decoder (Uint8OrString) keeps the text as written, so "tcp" in a manifest is "protocol name invalid" (only ProtocolFromString, used by code, folds case)',
    tessera: { fixture: 'rule-protocol-lowercase.yaml', accepts: 'rules-calico-accepts.yaml' },
  },
  {
    kind: RULE,
    field: 'source/destination ports, notPorts',
    calico: 'ports need a protocol that supports them: TCP, UDP or SCTP (Protocol.SupportsPorts); not UDPLite',
    tessera: { fixture: 'rule-ports-udplite.yaml', accepts: 'rules-calico-accepts.yaml' },
  },
  {
    kind: RULE,
    field: 'source/destination ports without protocol',
    calico:
      'until 2026: "rules that specify ports must set protocol"; since projectcalico/calico#11916 (ClusterNetworkPolicy named ports, 2026) a rule with no protocol may list named ports only; the named port then matches on the protocol each endpoint declares for it (protocol "Any" in the calculation graph)',
    tessera: {
      differs:
        "every port without a protocol is rejected, named ones too. Accepting them needs the policy compiler (src/policy/rules.ts compileRule, outside the API layer) to stop refusing a protocol-less rule with named ports; its nft rendering already matches a named port's set as address . l4proto . port, i.e. on the port's own protocol. Until that change, accepting them at apply would let the agent refuse the rule",
      fixture: 'rule-ports-without-protocol.yaml',
    },
  },
  {
    kind: RULE,
    field: 'ports[]',
    calico: 'port numbers 1-65535 (0 is invalid); a range has min <= max; a name cannot carry numbers',
    tessera: { fixture: 'rule-bad-ports.yaml', accepts: 'rules-calico-accepts.yaml' },
  },
  {
    kind: RULE,
    field: 'ports[] (0 and names)',
    calico: 'port 0 rejected in singles and ranges; a named port is a valid Kubernetes port name (IsValidPortName)',
    tessera: { fixture: 'rule-port-zero-and-bad-name.yaml' },
  },
  {
    kind: RULE,
    field: 'icmp, notICMP',
    calico: 'type 0-254, code 0-255; code needs a type ("ICMP code specified without an ICMP type")',
    tessera: { fixture: 'rule-icmp-code-without-type.yaml', accepts: 'rules-calico-accepts.yaml' },
  },
  {
    kind: RULE,
    field: 'icmp',
    calico: 'ICMP fields need protocol ICMP or ICMPv6',
    tessera: { fixture: 'rule-icmp-without-protocol.yaml' },
  },
  {
    kind: RULE,
    field: 'notICMP',
    calico: 'not checked against the protocol (validateRule checks only `icmp`; still so in the 2025-2026 validator)',
    tessera: {
      differs:
        'notICMP also needs protocol ICMP or ICMPv6. Without one the negation has no defined meaning: iptables refuses an icmp match without -p icmp, and nft adds an implicit "l4proto icmp" to "icmp type != N", which would turn "not this ICMP type" into "ICMP, but not this type". Tessera\'s policy compiler (outside the API layer) refuses such a rule, so apply refuses it too rather than store a rule the agent skips',
      fixture: 'rule-icmp-without-protocol.yaml',
    },
  },
  {
    kind: RULE,
    field: 'ipVersion with protocol',
    calico: 'protocol ICMP needs ipVersion 4, ICMPv6 needs 6 ("must set ipversion to \'4\' with protocol icmp")',
    tessera: { fixture: 'rule-icmp-ipversion.yaml' },
  },
  {
    kind: RULE,
    field: 'ipVersion with notProtocol',
    calico: 'the same check on notProtocol',
    tessera: { fixture: 'rule-notprotocol-ipversion.yaml', accepts: 'rules-calico-accepts.yaml' },
  },
  {
    kind: RULE,
    field: 'nets, notNets',
    calico: 'net.ParseCIDR (a prefix length is required, "invalid CIDR") and the `net` tag (strictly masked)',
    tessera: { fixture: 'rule-bad-nets.yaml', accepts: 'rules-calico-accepts.yaml' },
  },
  {
    kind: RULE,
    field: 'nets, notNets (families)',
    calico: '"rule IP version doesn\'t match CIDR version"; "rule contains both IPv4 and IPv6 CIDRs"',
    tessera: { fixture: 'rule-ipversion-mismatch.yaml' },
  },
  {
    kind: RULE,
    field: 'notNets',
    calico: 'a catch-all CIDR (0.0.0.0/0, ::/0) in a negation "creates logical contradiction (matches no traffic)"',
    tessera: { fixture: 'rule-notnets-catch-all.yaml' },
  },
  {
    kind: RULE,
    field: 'selector, notSelector, namespaceSelector, serviceAccounts.selector',
    calico: 'valid selector expressions',
    tessera: { fixture: 'rule-bad-selector.yaml' },
  },
  {
    kind: `${RULE}, ${POLICY}`,
    field: 'selector, serviceAccountSelector, namespaceSelector',
    calico:
      'global() only in an entity rule namespaceSelector, and there not combined with other selectors ("global() cannot be combined with other selectors")',
    tessera: { fixture: 'policy-global-selector.yaml', accepts: 'rules-calico-accepts.yaml' },
  },
  {
    kind: RULE,
    field: 'services',
    calico:
      'a name is required; not with selector/notSelector, nets/notNets, namespaceSelector, serviceAccounts; no ports in a destination; only in egress destinations and ingress sources; a namespace in a GlobalNetworkPolicy',
    tessera: { fixture: 'rule-services-placement.yaml', accepts: 'rules-calico-accepts.yaml' },
  },
  {
    kind: RULE,
    field: 'http',
    calico: 'only valid for Allow rules ("only valid for Allow rules"), not in egress rules',
    tessera: { fixture: 'rule-http-placement.yaml' },
  },
  {
    kind: RULE,
    field: 'http with protocol',
    calico: '"rules that specify HTTP fields must set protocol to TCP or empty"',
    tessera: { fixture: 'rule-http-protocol.yaml', accepts: 'rules-calico-accepts.yaml' },
  },
  {
    kind: RULE,
    field: 'http.methods, http.paths',
    calico: 'no repeated methods; each path sets exact or prefix, starts with "/" and has no "?", "#" or space',
    tessera: { fixture: 'rule-http-protocol.yaml' },
  },
  {
    kind: RULE,
    field: 'metadata.annotations',
    calico: 'keys are qualified names (validateRuleMetadata)',
    tessera: { fixture: 'bad-annotations.yaml' },
  },
  {
    kind: RULE,
    field: 'destination.domains',
    calico: 'DNS policy (Calico Enterprise API)',
    tessera: { notApplicable: 'not in the open-source projectcalico.org/v3 API; an unknown field is rejected' },
  },
  // Policies.
  {
    kind: POLICY,
    field: 'metadata.name',
    calico:
      'a DNS-1123 label, or "<tier>.<label>" (one dot); NetworkPolicy also "knp.default.<name>" / "ossg.default.<name>"',
    tessera: { fixture: 'policy-name-dots.yaml', accepts: 'rules-calico-accepts.yaml' },
  },
  {
    kind: POLICY,
    field: 'spec.types',
    calico: 'Ingress or Egress, each at most once ("type specified more than once")',
    tessera: { fixture: 'policy-types-missing-direction.yaml' },
  },
  {
    kind: `${POLICY}, Tier`,
    field: 'spec.order',
    calico: 'a float64: any number, fractions and negatives included; no range',
    tessera: { fixture: 'policy-order-type.yaml', accepts: 'rules-calico-accepts.yaml' },
  },
  {
    kind: 'GlobalNetworkPolicy',
    field: 'spec.preDNAT, spec.doNotTrack',
    calico: '"PreDNAT and DoNotTrack cannot both be true"',
    tessera: { fixture: 'gnp-prednat-and-donottrack.yaml' },
  },
  {
    kind: 'GlobalNetworkPolicy',
    field: 'spec.egress, spec.types with preDNAT',
    calico: '"PreDNAT PolicySpec cannot have any Egress rules" / an Egress type',
    tessera: { fixture: 'gnp-prednat-egress.yaml' },
  },
  {
    kind: 'GlobalNetworkPolicy',
    field: 'spec.applyOnForward',
    calico: '"ApplyOnForward must be true if either PreDNAT or DoNotTrack is true"',
    tessera: { fixture: 'gnp-donottrack-without-applyonforward.yaml' },
  },
  {
    kind: 'NetworkPolicy',
    field: 'spec.doNotTrack, spec.preDNAT, spec.applyOnForward',
    calico: 'no such fields on a namespaced NetworkPolicy',
    tessera: { fixture: 'np-host-only-options.yaml' },
  },
  // Every kind's metadata (validateObjectMeta).
  {
    kind: 'every kind',
    field: 'metadata.name',
    calico: 'a DNS-1123 subdomain of at most 253 characters',
    tessera: { fixture: 'bad-name.yaml' },
  },
  {
    kind: 'every kind',
    field: 'metadata.labels',
    calico: 'qualified-name keys and valid label values',
    tessera: { fixture: 'bad-labels.yaml' },
  },
  {
    kind: 'every kind',
    field: 'metadata.annotations',
    calico: 'keys (lower-cased) are qualified names; keys and values total at most 256 KiB',
    tessera: { fixture: 'bad-annotations.yaml' },
  },
  {
    kind: 'Tier',
    field: 'metadata.name',
    calico: 'a DNS-1123 label (no dots), at most 63 characters',
    tessera: { fixture: 'tier-bad-name.yaml', accepts: 'rules-calico-accepts.yaml' },
  },
  {
    kind: 'Tier',
    field: 'spec.order',
    calico: 'the well-known tiers keep their fixed order (CRD rule)',
    tessera: { fixture: 'tier-builtin-order.yaml' },
  },
  // Network sets.
  {
    kind: 'NetworkSet, GlobalNetworkSet',
    field: 'metadata.labels',
    calico: '"projectcalico.org/namespace is not a valid label name"',
    tessera: { fixture: 'networkset-namespace-label.yaml' },
  },
  {
    kind: 'NetworkSet, GlobalNetworkSet',
    field: 'spec.nets',
    calico: 'the `cidr` tag: an address or a CIDR, host bits allowed',
    tessera: { fixture: 'networkset-bad-net.yaml', accepts: 'networkset-addresses.yaml' },
  },
  // IPPool (validateIPPoolSpec and CRD rules).
  {
    kind: 'IPPool',
    field: 'spec.cidr',
    calico: 'required, a valid subnet, strictly masked ("IP pool CIDR is not strictly masked")',
    tessera: { fixture: 'ippool-host-bits.yaml' },
  },
  {
    kind: 'IPPool',
    field: 'spec.cidr (link local)',
    calico: 'no overlap with 169.254.0.0/16 or fe80::/10',
    tessera: { fixture: 'ippool-link-local.yaml' },
  },
  {
    kind: 'IPPool',
    field: 'spec.cidr (size)',
    calico: 'an enabled pool is at least one block ("IP pool size is too small"); a disabled one may be smaller',
    tessera: { fixture: 'ippool-smaller-than-block.yaml', accepts: 'ippool-disabled-small.yaml' },
  },
  {
    kind: 'IPPool',
    field: 'spec.blockSize',
    calico: 'IPv4 20-32, IPv6 116-128',
    tessera: { fixture: 'ippool-blocksize-v4.yaml' },
  },
  {
    kind: 'IPPool',
    field: 'spec.blockSize (IPv6)',
    calico: 'IPv6 116-128',
    tessera: { fixture: 'ippool-blocksize-v6.yaml' },
  },
  {
    kind: 'IPPool',
    field: 'spec.ipipMode, spec.vxlanMode',
    calico: 'Always, CrossSubnet or Never (case matters)',
    tessera: { fixture: 'ippool-bad-mode.yaml' },
  },
  {
    kind: 'IPPool',
    field: 'spec.ipipMode (IPv6)',
    calico: '"IPIPMode other than \'Never\' is not supported on an IPv6 IP pool"',
    tessera: { fixture: 'ippool-ipip-v6.yaml' },
  },
  {
    kind: 'IPPool',
    field: 'spec.ipipMode + spec.vxlanMode',
    calico: '"IPIPMode and VXLANMode cannot both be enabled on the same IP pool"',
    tessera: { fixture: 'ippool-ipip-and-vxlan.yaml' },
  },
  {
    kind: 'IPPool',
    field: 'spec.allowedUses, spec.assignmentMode',
    calico: 'known uses only; LoadBalancer alone; assignmentMode Automatic or Manual',
    tessera: { fixture: 'ippool-allowed-uses.yaml' },
  },
  {
    kind: 'IPPool',
    field: 'spec.allowedUses HostSecondary',
    calico: 'a use newer Calico releases add',
    tessera: { differs: 'not accepted: Tessera has no host-secondary addressing to give it a meaning' },
  },
  {
    kind: 'IPPool',
    field: 'LoadBalancer pools',
    calico: 'no disableBGPExport, no IPIP or VXLAN, nodeSelector all() (CRD rules)',
    tessera: { fixture: 'ippool-loadbalancer.yaml', accepts: 'ippool-disabled-small.yaml' },
  },
  {
    kind: 'IPPool',
    field: 'spec.cidr (overlap)',
    calico: 'pools do not overlap (calicoctl / IPAM)',
    tessera: { fixture: 'ippool-overlap.yaml' },
  },
  {
    kind: 'IPPool',
    field: 'spec.awsSubnetID',
    calico: 'an AWS subnet ID (Calico Enterprise / AWS-backed pools)',
    tessera: { notApplicable: 'not in the schema Tessera serves; an unknown field is rejected' },
  },
  {
    kind: 'IPAMConfiguration',
    field: 'spec.maxBlocksPerHost',
    calico: '"must be greater than or equal to 0"',
    tessera: { fixture: 'ipamconfig-negative.yaml' },
  },
  // BGP.
  {
    kind: 'BGPConfiguration',
    field: 'spec.communities[].value, spec.prefixAdvertisements[]',
    calico:
      'aa:nn (16-bit) or aa:nn:mm (32-bit) values; an advertisement names a defined community or a value; its cidr is valid',
    tessera: { fixture: 'bgpconfig-bad-community.yaml', accepts: 'bgp-calico-accepts.yaml' },
  },
  {
    kind: 'BGPConfiguration',
    field: 'spec.communities',
    calico: '"communities are defined but not used in Spec.PrefixAdvertisement[]"',
    tessera: { fixture: 'bgpconfig-mesh-and-communities.yaml', accepts: 'bgp-calico-accepts.yaml' },
  },
  {
    kind: 'BGPConfiguration',
    field: 'spec.nodeMeshPassword, spec.nodeMeshMaxRestartTime',
    calico: 'cannot be set if spec.nodeToNodeMeshEnabled is false',
    tessera: { fixture: 'bgpconfig-mesh-and-communities.yaml', accepts: 'bgp-calico-accepts.yaml' },
  },
  {
    kind: 'BGPConfiguration',
    field: 'cluster-wide fields on node.<name>',
    calico: 'asNumber, nodeToNodeMeshEnabled, service IPs, communities ... only on "default"',
    tessera: { fixture: 'bgpconfig-global-field-on-node.yaml' },
  },
  {
    kind: 'BGPPeer',
    field: 'spec.node/nodeSelector, spec.peerIP/peerSelector, spec.asNumber/peerSelector',
    calico: 'each pair exclusive ("Node field must be empty when NodeSelector is specified" ...)',
    tessera: { fixture: 'bgppeer-selector-conflict.yaml' },
  },
  {
    kind: 'BGPPeer',
    field: 'spec.peerIP',
    calico: 'an IP, "IPv4:port" or "[IPv6]:port" (port 1-65535)',
    tessera: { fixture: 'bgppeer-bad-peerip.yaml', accepts: 'bgp-calico-accepts.yaml' },
  },
  {
    kind: 'BGPPeer',
    field: 'spec.reachableBy',
    calico: 'a valid address of the same family as peerIP ("ReachableBy and PeerIP address family mismatched")',
    tessera: { fixture: 'bgppeer-reachableby-family.yaml', accepts: 'bgp-calico-accepts.yaml' },
  },
  {
    kind: 'BGPPeer',
    field: 'spec.asNumber, spec.localASNumber',
    calico: 'AS numbers 1-4294967295 (plain or dotted)',
    tessera: { fixture: 'bgppeer-bad-as.yaml' },
  },
  {
    kind: 'BGPFilter',
    field: 'spec.*V4[].interface, spec.*V6[].interface',
    calico: '"*" or 1-15 of letters, digits, "_", ".", "*", "-" (bgpFilterInterface)',
    tessera: { fixture: 'bgpfilter-bad-interface.yaml', accepts: 'bgp-calico-accepts.yaml' },
  },
  // Endpoints and nodes.
  {
    kind: 'HostEndpoint',
    field: 'spec.interfaceName, spec.expectedIPs',
    calico: '"no interface or expected IPs have been specified"',
    tessera: { fixture: 'hep-no-interface.yaml' },
  },
  {
    kind: 'HostEndpoint',
    field: 'spec.node, spec.ports[].protocol, spec.interfaceName',
    calico: '"no node has been specified"; an endpoint port protocol supports ports; interface names',
    tessera: { fixture: 'hep-bad-node-and-ports.yaml' },
  },
  {
    kind: 'HostEndpoint',
    field: 'spec.expectedIPs',
    calico: 'valid IP addresses',
    tessera: { fixture: 'bad-ip.yaml' },
  },
  {
    kind: 'WorkloadEndpoint',
    field: 'spec.ipNetworks',
    calico: '"IP network contains multiple addresses"',
    tessera: { fixture: 'wep-ipnetworks-subnet.yaml' },
  },
  {
    kind: 'WorkloadEndpoint',
    field: 'spec.ipNATs',
    calico: '"NAT is not in the endpoint networks"; "mismatched IP versions"',
    tessera: { fixture: 'wep-ipnat-outside.yaml' },
  },
  {
    kind: 'WorkloadEndpoint',
    field: 'spec.ipv4Gateway, spec.ipv6Gateway',
    calico: '"invalid IPv4 gateway address specified" / IPv6',
    tessera: { fixture: 'wep-gateway-family.yaml' },
  },
  {
    kind: 'Node',
    field: 'spec.bgp',
    calico: '"Spec.BGP should not be empty"',
    tessera: { fixture: 'node-empty-bgp.yaml' },
  },
  // FelixConfiguration (validateFelixConfigSpec, tags, CRD rules).
  {
    kind: 'FelixConfiguration',
    field:
      'spec.natOutgoingAddress, deviceRouteSourceAddress(IPv6), externalNodesList, openstackRegion, kubeNodePortRanges, routeTableRange',
    calico:
      'IPv4 / IPv6 addresses; IPv4 external CIDRs; a region fit for "openstack-region-<region>"; numeric node port ranges (at most 7); not both routeTableRange and routeTableRanges',
    tessera: { fixture: 'felix-addresses.yaml' },
  },
  {
    kind: 'FelixConfiguration',
    field: 'spec.routeTableRange, log levels, defaultEndpointToHostAction, healthTimeoutOverrides',
    calico: 'route tables 1-250; enums; override names of letters, digits, "_", "-", space; no negative timeout',
    tessera: { fixture: 'felix-ranges-and-enums.yaml' },
  },
  {
    kind: 'KubeControllersConfiguration',
    field: 'spec.etcdV3CompactionPeriod',
    calico: 'a duration',
    tessera: { fixture: 'kcc-compaction-period.yaml' },
  },
  {
    kind: 'FelixConfiguration',
    field:
      'spec.logSeverity{Screen,File,Sys}, defaultEndpointToHostAction, iptables{Filter,Mangle}AllowAction, iptablesFilterDenyAction, iptablesBackend, bpfLogLevel, bpfExternalServiceMode, bpfConnectTimeLoadBalancing, bpfHostNetworkedNATWithoutCTLB',
    calico:
      'validator.go regexes, case-sensitive: Trace|Debug|Info|Warning|Error|Fatal (no None); Drop|Accept|Return; Accept|Return; Drop|Reject; Auto|NFT|Legacy; Off|Info|Debug; Tunnel|DSR; TCP|Enabled|Disabled; Enabled|Disabled (the CRD patterns are (?i), the validator is not)',
    tessera: { fixture: 'felix-enums.yaml', accepts: 'felix-enums-calico-accepts.yaml' },
  },
  {
    kind: 'FelixConfiguration',
    field:
      'spec.awsSrcDstCheck, bpfAttachType, bpfConntrackLogLevel, bpfConntrackMode, bpfJITHardening, bpfProfiling, bpfRedirectToPeer, floatingIPs, flowLogsLocalReporter, flowLogsPolicyEvaluationMode, ipForwarding, natOutgoingExclusions, nftablesMode, programClusterRoutes, windowsManageFirewallRules',
    calico:
      'CRD enums (exact): DoNothing|Enable|Disable; TC|TCX; Off|Debug; Auto|Userspace|BPFProgram; Auto|Strict; Enabled|Disabled; Enabled|Disabled; Enabled|Disabled; Disabled|Enabled; None|Continuous; Enabled|Disabled; IPPoolsOnly|IPPoolsAndHostIPs; Disabled|Enabled|Auto; Enabled|Disabled; Enabled|Disabled',
    tessera: { fixture: 'felix-enums.yaml', accepts: 'felix-enums-calico-accepts.yaml' },
  },
  {
    kind: 'FelixConfiguration',
    field:
      'spec.chainInsertMode, routeSource, nftables{Filter,Mangle}AllowAction, nftablesFilterDenyAction, serviceLoopPrevention, workloadSourceSpoofing, bpfEnforceRPF, bpfMapSizeConntrackScaling',
    calico:
      'CRD patterns ^(?i)(...)?$, any case: Insert|Append; WorkloadIPs|CalicoIPAM; Accept|Return; Drop|Reject; Drop|Reject|Disabled; Disabled|Any; Disabled|Strict|Loose; Disabled|DoubleIfFull',
    tessera: { fixture: 'felix-enums.yaml', accepts: 'felix-enums-calico-accepts.yaml' },
  },
  {
    kind: 'FelixConfiguration',
    field:
      'spec.featureDetectOverride, featureGates, logActionRateLimit, logActionRateLimitBurst, logPrefix, prometheusMetricsHost, iptablesNATOutgoingInterfaceFilter, bpfExtToServiceConnmark, bpfMapSizeConntrackCleanupQueue, bpfConntrackTimeouts.*, bpfLogFilters keys',
    calico:
      'CRD patterns (name=true|false|, name=value lists; N/second|minute|hour|day; 0-9999; [a-zA-Z0-9%: /_-]*; conntrack timeouts a duration or Auto; cleanup queue >= 1) and validator tags (prometheusHost [a-zA-Z0-9:._+-]{1,64}; ifaceFilter [a-zA-Z0-9:._+-]{1,15}; connmark 0-4294967295; bpfLogFilters keys are interface names)',
    tessera: { fixture: 'felix-patterns.yaml', accepts: 'felix-enums-calico-accepts.yaml' },
  },
  {
    kind: 'FelixConfiguration',
    field:
      'every duration (routeRefreshInterval, iptablesLockProbeInterval, usageReportingInterval, wireguardKeepAlive, ...)',
    calico:
      'metav1.Duration; the CRD pattern ^([0-9]+(\\\\.[0-9]+)?(ms|s|m|h))*$ (its doubled backslash makes it refuse "1.5s", which the Go parser accepts)',
    tessera: {
      differs:
        'a Go duration ("90s", "1.5s", "1h30m", "0"): the parser\'s rule, without the CRD pattern\'s doubled-backslash slip that refuses fractions',
      fixture: 'felix-patterns.yaml',
      accepts: 'felix-enums-calico-accepts.yaml',
    },
  },
  {
    kind: 'FelixConfiguration',
    field: 'spec.failsafeInboundHostPorts[], failsafeOutboundHostPorts[]',
    calico: 'validateProtoPort: protocol exactly TCP, UDP or SCTP (empty means TCP); the CRD requires port',
    tessera: { fixture: 'felix-failsafe-ports.yaml', accepts: 'felix-enums-calico-accepts.yaml' },
  },
  {
    kind: 'FelixConfiguration',
    field: 'spec.bpfDataIfacePattern, bpfL3IfacePattern, mtuIfacePattern',
    calico: 'the `regexp` tag: compiles as a Go (RE2) regular expression',
    tessera: {
      differs:
        "not checked: RE2 and JavaScript regular expressions differ (RE2's (?i) flags and \\z, for two), so a JavaScript check would refuse valid Go patterns or pass invalid ones; Tessera does not use these settings (apply warns)",
    },
  },
  {
    kind: 'KubeControllersConfiguration',
    field:
      'spec.logSeverityScreen, healthChecks, syncLabels, hostEndpoint.autoCreate, createDefaultHostEndpoint, loadBalancer.assignIPs, policyMigration.enabled',
    calico:
      "CRD enums and oneof tags: None|Debug|Info|Warning|Error|Fatal|Panic (its own, not Felix's); Enabled|Disabled; AllServices|RequestedServicesOnly",
    tessera: { fixture: 'kcc-enums.yaml', accepts: 'kcc-every-field.yaml' },
  },
  {
    kind: 'KubeControllersConfiguration',
    field: 'spec.prometheusMetricsPort, debugProfilePort, every reconcilerPeriod, leakGracePeriod',
    calico: 'ports 0-65535 (CRD minimum/maximum); periods are metav1.Duration',
    tessera: { fixture: 'kcc-enums.yaml', accepts: 'kcc-every-field.yaml' },
  },
  {
    kind: 'KubeControllersConfiguration',
    field: 'spec.controllers.node.hostEndpoint.templates[]',
    calico:
      'generateName: the `name` tag (a DNS-1123 subdomain, at most 253); interfaceCIDRs: `cidrs`; labels: `labels`; nodeSelector: `selector`; interfacePattern: `regexp`',
    tessera: {
      fixture: 'kcc-templates.yaml',
      accepts: 'kcc-every-field.yaml',
    },
  },
  {
    kind: 'KubeControllersConfiguration',
    field: 'status.runningConfig',
    calico: 'the same type as spec (written by kube-controllers)',
    tessera: { fixture: 'kcc-enums.yaml' },
  },
  {
    kind: 'IPReservation',
    field: 'spec.reservedCIDRs',
    calico: "the `cidrs` tag (a CIDR, host bits allowed, or an address; either family) and the CRD's UniqueItems",
    tessera: { fixture: 'ipreservation-bad.yaml', accepts: 'ipam-and-status-calico-accepts.yaml' },
  },
  {
    kind: 'CalicoNodeStatus',
    field: 'spec.node, spec.classes, spec.updatePeriodSeconds',
    calico:
      'node: required, a name; classes: required, unique, at most 3, each Agent, BGP or Routes; updatePeriodSeconds: required, 0-86400',
    tessera: { fixture: 'caliconodestatus-bad.yaml', accepts: 'ipam-and-status-calico-accepts.yaml' },
  },
  {
    kind: 'CalicoNodeStatus',
    field: 'status',
    calico: '"No validation needed for status since it is updated by Calico"',
    tessera: { notApplicable: "written by the Tessera agent; a user's edit of it is not applied" },
  },
  {
    kind: 'Profile',
    field: 'spec.labelsToApply, spec.ingress, spec.egress',
    calico:
      'labelsToApply: the `labels` tag; ingress/egress: each rule as in a policy (validateRule, validateEntityRule), at most 1024 each (CRD MaxItems)',
    tessera: { fixture: 'profile-bad.yaml', accepts: 'ipam-and-status-calico-accepts.yaml' },
  },
  // Kinds Tessera does not serve.
  {
    kind: 'StagedNetworkPolicy, StagedGlobalNetworkPolicy, StagedKubernetesNetworkPolicy',
    field: '(all)',
    calico: 'staged policy rules (stagedAction Delete with an empty spec, ...)',
    tessera: { notApplicable: 'Tessera does not serve the staged policy kinds; apply rejects them as unknown kinds' },
  },
  {
    kind: 'BlockAffinity',
    field: 'spec.deleted',
    calico: '"spec.Deleted cannot be set to true"',
    tessera: { notApplicable: "IPAM's block affinities are internal records, not an API kind in Tessera" },
  },
];

function statusText(s: CalicoRuleStatus): string {
  const files = (f?: string, a?: string) =>
    [f ? `rejects \`${f}\`` : '', a ? `accepts \`valid/${a}\`` : ''].filter(Boolean).join('; ');
  if ('notApplicable' in s) return `not applicable: ${s.notApplicable}`;
  if ('differs' in s)
    return `differs: ${s.differs}${s.fixture || s.accepts ? ` (${files(s.fixture, s.accepts)})` : ''}`;
  return `enforced: ${files(s.fixture, s.accepts)}`;
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

/** docs/calico-rules.md. */
export function renderCalicoRules(rules: readonly CalicoRule[] = CALICO_RULES): string {
  const counts = { enforced: 0, differs: 0, na: 0 };
  for (const r of rules) {
    if ('notApplicable' in r.tessera) counts.na++;
    else if ('differs' in r.tessera) counts.differs++;
    else counts.enforced++;
  }
  return [
    "# Calico's validation rules, and Tessera's",
    '',
    'Generated from `src/api/calico-rules.ts` by `src/api/calico-rules.test.ts`, which fails when this',
    'file is out of date (regenerate: `UPDATE_GOLDEN=1 node --import tsx --test src/api/calico-rules.test.ts`)',
    'or when a named fixture is missing. Sources walked: libcalico-go `lib/validator/v3/validator.go`, the',
    '`validate:` tags of the projectcalico.org/v3 types, and the CRD rules that replaced some of them.',
    'Rejection fixtures are in `src/api/testdata/invalid/` (each must fail at the listed paths), accepted',
    'ones in `src/api/testdata/valid/` (each must pass).',
    '',
    `${rules.length} rules: ${counts.enforced} enforced, ${counts.differs} deliberately different, ${counts.na} not applicable.`,
    '',
    '| kind | field | Calico | Tessera |',
    '| --- | --- | --- | --- |',
    ...rules.map((r) => `| ${cell(r.kind)} | ${cell(r.field)} | ${cell(r.calico)} | ${cell(statusText(r.tessera))} |`),
    '',
  ].join('\n');
}
