/**
 * Keeps types/*.ts and the strict-decoding schema in step: fully populated objects, checked by the
 * compiler against the exported types, must also pass validateResource (which rejects any field the
 * schema does not know).
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import {
  validateResource,
  type BGPConfigurationSpec,
  type BGPFilterSpec,
  type BGPPeerSpec,
  type GlobalNetworkPolicySpec,
  type HostEndpointSpec,
  type IPPoolSpec,
  type K8sNetworkPolicySpec,
  type NodeSpec,
  type Rule,
  type WorkloadEndpointSpec,
} from './index.js';

const C = 'projectcalico.org/v3';
const check = (kind: string, spec: object, apiVersion = C, name = 'x', namespace?: string) =>
  assert.deepEqual(
    validateResource({ apiVersion, kind, metadata: namespace ? { name, namespace } : { name }, spec }),
    [],
    kind,
  );

test('every typed field is accepted by the schema', () => {
  const rule: Rule = {
    action: 'Allow',
    protocol: 'TCP',
    ipVersion: 4,
    source: {
      nets: ['10.0.0.0/8'],
      notNets: ['10.1.0.0/16'],
      selector: 'a == "b"',
      notSelector: 'has(c)',
      namespaceSelector: 'all()',
      ports: [1],
      notPorts: ['2:3'],
      serviceAccounts: { names: ['sa'], selector: 'all()' },
    },
    destination: { ports: ['http'] },
    http: { methods: ['GET'], paths: [{ exact: '/' }] },
    metadata: { annotations: { a: 'b' } },
  };
  const icmpRule: Rule = {
    action: 'Deny',
    protocol: 'ICMP',
    notProtocol: 17,
    icmp: { type: 3, code: 1 },
    notICMP: { type: 8 },
  };
  const gnp: GlobalNetworkPolicySpec = {
    tier: 'default',
    order: 1.5,
    selector: 'all()',
    serviceAccountSelector: 'all()',
    namespaceSelector: 'has(team)',
    types: ['Ingress', 'Egress'],
    ingress: [rule, icmpRule],
    egress: [{ action: 'Allow', destination: { services: { name: 's', namespace: 'n' } } }],
    performanceHints: ['AssumeNeededOnEveryNode'],
    doNotTrack: false,
    preDNAT: false,
    applyOnForward: false,
  };
  check('GlobalNetworkPolicy', gnp);
  const pool: IPPoolSpec = {
    cidr: '10.0.0.0/16',
    blockSize: 24,
    ipipMode: 'Never',
    vxlanMode: 'CrossSubnet',
    natOutgoing: true,
    disabled: false,
    disableBGPExport: true,
    nodeSelector: 'all()',
    allowedUses: ['Workload'],
    assignmentMode: 'Manual',
  };
  check('IPPool', pool);
  const bgp: BGPConfigurationSpec = {
    logSeverityScreen: 'Debug',
    nodeToNodeMeshEnabled: true,
    asNumber: '1.2',
    serviceClusterIPs: [{ cidr: '10.96.0.0/12' }],
    serviceExternalIPs: [],
    serviceLoadBalancerIPs: [{ cidr: 'fd00::/112' }],
    listenPort: 179,
    bindMode: 'None',
    communities: [{ name: 'c', value: '1:2' }],
    prefixAdvertisements: [{ cidr: '10.0.0.0/8', communities: ['c'] }],
    nodeMeshPassword: { secretKeyRef: { name: 's', key: 'k' } },
    nodeMeshMaxRestartTime: '2m',
    ignoredInterfaces: ['eth*'],
    localWorkloadPeeringIPV4: '169.254.0.1',
    localWorkloadPeeringIPV6: 'fe80::1',
    programClusterRoutes: 'Enabled',
  };
  check('BGPConfiguration', bgp, C, 'default');
  const peer: BGPPeerSpec = {
    nodeSelector: 'all()',
    peerIP: '10.0.0.1:179',
    asNumber: 65000,
    localASNumber: 65001,
    keepOriginalNextHop: true,
    password: { secretKeyRef: { name: 's', key: 'k' } },
    sourceAddress: 'None',
    maxRestartTime: '120s',
    numAllowedLocalASNumbers: 1,
    ttlSecurity: 1,
    filters: ['f'],
    reachableBy: '10.0.0.254',
    nextHopMode: 'Self',
  };
  check('BGPPeer', peer);
  const filter: BGPFilterSpec = {
    importV4: [
      {
        action: 'Accept',
        cidr: '10.0.0.0/8',
        matchOperator: 'In',
        prefixLength: { min: 16, max: 24 },
        source: 'RemotePeers',
        interface: 'eth*',
        peerType: 'eBGP',
        priority: 10,
        communities: { values: ['1:2'] },
        operations: [
          { addCommunity: { value: '1:3' } },
          { prependASPath: { prefix: [65000] } },
          { setPriority: { value: 5 } },
        ],
      },
    ],
  };
  check('BGPFilter', filter);
  const node: NodeSpec = {
    bgp: {
      asNumber: 1,
      ipv4Address: '10.0.0.1/24',
      ipv6Address: 'fd00::1/64',
      ipv4IPIPTunnelAddr: '10.244.0.1',
      routeReflectorClusterID: '224.0.0.1',
    },
    ipv4VXLANTunnelAddr: '10.244.0.2',
    vxlanTunnelMACAddr: '66:55:44:33:22:11',
    ipv6VXLANTunnelAddr: 'fd00::2',
    vxlanTunnelMACAddrV6: '66:55:44:33:22:12',
    orchRefs: [{ nodeName: 'n', orchestrator: 'k8s' }],
    wireguard: { interfaceIPv4Address: '10.245.0.1' },
    addresses: [{ address: '10.0.0.1', type: 'InternalIP' }],
  };
  check('Node', node);
  const hep: HostEndpointSpec = {
    node: 'n',
    interfaceName: '*',
    expectedIPs: ['10.0.0.1'],
    profiles: ['p'],
    ports: [{ name: 'x', protocol: 'SCTP', port: 9 }],
  };
  check('HostEndpoint', hep);
  const wep: WorkloadEndpointSpec = {
    workload: 'w',
    orchestrator: 'k8s',
    node: 'n',
    containerID: 'c',
    pod: 'p',
    endpoint: 'eth0',
    serviceAccountName: 'sa',
    ipNetworks: ['10.244.0.5/32'],
    ipNATs: [{ internalIP: '10.244.0.5', externalIP: '1.2.3.4' }],
    ipv4Gateway: '169.254.1.1',
    ipv6Gateway: 'fe80::1',
    profiles: ['kns.default'],
    interfaceName: 'tsr1234',
    mac: '02:00:00:00:00:01',
    ports: [{ name: 'http', protocol: 'TCP', port: 80, hostPort: 8080, hostIP: '0.0.0.0' }],
    allowSpoofedSourcePrefixes: ['10.9.0.0/16'],
  };
  check('WorkloadEndpoint', wep, C, 'x', 'default');
  const knp: K8sNetworkPolicySpec = {
    podSelector: { matchLabels: { a: 'b' }, matchExpressions: [{ key: 'c', operator: 'Exists' }] },
    policyTypes: ['Ingress'],
    ingress: [
      { ports: [{ protocol: 'UDP', port: 53, endPort: 54 }], from: [{ podSelector: {}, namespaceSelector: {} }] },
    ],
    egress: [{ to: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] } }] }],
  };
  check('NetworkPolicy', knp, 'networking.k8s.io/v1', 'x', 'default');
});
