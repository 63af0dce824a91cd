/** Synthetic datastores for the renderer's golden files (shared by the unit and `bird -p` tests). */
import type { Resource } from '../../api/index.js';
import type { BirdConfigInput } from '../model.js';

const res = (kind: string, name: string, spec: Record<string, unknown>, labels?: Record<string, string>): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind,
  metadata: { name, ...(labels ? { labels } : {}) },
  spec,
});

export const node = (name: string, ip: string, extra: Record<string, unknown> = {}, labels?: Record<string, string>): Resource =>
  res('Node', name, { bgp: { ipv4Address: `${ip}/24`, ...extra } }, labels);
export const pool = (name: string, cidr: string, extra: Record<string, unknown> = {}): Resource =>
  res('IPPool', name, { cidr, ...extra });
export const peer = (name: string, spec: Record<string, unknown>): Resource => res('BGPPeer', name, spec);
export const bgpConfig = (name: string, spec: Record<string, unknown>): Resource => res('BGPConfiguration', name, spec);
export const bgpFilter = (name: string, spec: Record<string, unknown>): Resource => res('BGPFilter', name, spec);

const threeNodes = [node('n1', '10.0.0.1'), node('n2', '10.0.0.2'), node('n3', '10.0.0.3')];
const base: BirdConfigInput = {
  nodeName: 'n1',
  bgpConfigurations: [],
  nodes: threeNodes,
  peers: [],
  filters: [],
  pools: [pool('default-ipv4', '10.244.0.0/16')],
  blocks: [
    { cidr: '10.244.0.0/26', affinity: 'host:n1' },
    { cidr: '10.244.0.64/26', affinity: 'host:n2' },
    { cidr: '10.244.0.128/26', affinity: 'host:n1' },
  ],
  workloads: [{ node: 'n1', ipNetworks: ['10.244.0.5/32'] }],
};

const rrNodes = [
  node('rr1', '10.0.0.1', { routeReflectorClusterID: '244.0.0.1' }, { 'route-reflector': 'true' }),
  node('rr2', '10.0.0.2', { routeReflectorClusterID: '244.0.0.1' }, { 'route-reflector': 'true' }),
  node('n3', '10.0.0.3'),
  node('n4', '10.0.0.4'),
];
const rrBase: BirdConfigInput = {
  ...base,
  bgpConfigurations: [bgpConfig('default', { nodeToNodeMeshEnabled: false })],
  nodes: rrNodes,
  peers: [peer('to-reflectors', { nodeSelector: 'all()', peerSelector: "route-reflector == 'true'" })],
};

export const SCENARIOS: Record<string, BirdConfigInput> = {
  mesh: base,
  'route-reflector': { ...rrBase, nodeName: 'rr1' },
  'route-reflector-client': { ...rrBase, nodeName: 'n3', blocks: [{ cidr: '10.244.1.0/26', affinity: 'host:n3' }] },
  'external-peer': {
    ...base,
    bgpConfigurations: [
      bgpConfig('default', {
        asNumber: 64513,
        listenPort: 1790,
        nodeMeshMaxRestartTime: '2m',
        serviceClusterIPs: [{ cidr: '10.96.0.0/12' }],
        serviceExternalIPs: [{ cidr: '192.0.2.10' }],
        communities: [{ name: 'pods', value: '65000:100' }],
        prefixAdvertisements: [{ cidr: '10.244.0.0/16', communities: ['pods', '65000:1:2'] }],
      }),
      bgpConfig('node.n1', { ignoredInterfaces: ['docker*'] }),
    ],
    peers: [
      peer('tor', { peerIP: '10.0.0.254', asNumber: 65000, password: { secretKeyRef: { name: 'bgp', key: 'tor' } }, maxRestartTime: '90s', keepOriginalNextHop: true }),
      peer('tor-b', { node: 'n1', peerIP: '10.0.0.253:1179', asNumber: '1.10', sourceAddress: 'None', nextHopMode: 'Self' }),
      peer('elsewhere', { node: 'n2', peerIP: '10.0.0.252', asNumber: 65000 }),
    ],
    secrets: { 'bgp/tor': 's3cret' },
  },
  'per-node-as': { ...base, nodes: [node('n1', '10.0.0.1', { asNumber: 65001 }), node('n2', '10.0.0.2'), node('n3', '10.0.0.3', { asNumber: 65001 })] },
  filters: {
    ...base,
    bgpConfigurations: [bgpConfig('default', { nodeToNodeMeshEnabled: false })],
    filters: [
      bgpFilter('tor-policy', {
        exportV4: [
          { cidr: '10.244.0.0/16', matchOperator: 'In', prefixLength: { min: 26, max: 32 }, action: 'Accept', operations: [{ addCommunity: { value: '65000:7' } }, { prependASPath: { prefix: [65001, 65002] } }] },
          { cidr: '10.245.0.0/16', matchOperator: 'Equal', peerType: 'eBGP', action: 'Reject' },
        ],
        importV4: [
          { cidr: '0.0.0.0/0', matchOperator: 'Equal', action: 'Accept', operations: [{ setPriority: { value: 512 } }] },
          { cidr: '10.0.0.0/8', matchOperator: 'NotIn', communities: { values: ['65000:100'] }, action: 'Reject' },
          { interface: 'eth*', source: 'RemotePeers', action: 'Reject' },
        ],
      }),
    ],
    peers: [peer('tor', { peerIP: '10.0.0.254', asNumber: 65000, filters: ['tor-policy'] })],
  },
  'disable-bgp-export': {
    ...base,
    pools: [
      pool('default-ipv4', '10.244.0.0/16'),
      pool('private', '10.250.0.0/16', { disableBGPExport: true }),
      pool('vxlan', '10.251.0.0/16', { vxlanMode: 'Always' }),
      pool('ipip-cross', '10.252.0.0/16', { ipipMode: 'CrossSubnet' }),
    ],
    blocks: [
      { cidr: '10.244.0.0/26', affinity: 'host:n1' },
      { cidr: '10.250.0.0/26', affinity: 'host:n1' },
      { cidr: '10.251.0.0/26', affinity: 'host:n1' },
      { cidr: '10.252.0.0/26', affinity: 'host:n1' },
    ],
    workloads: [{ node: 'n1', ipNetworks: ['10.250.1.9/32', '10.244.0.7/32'] }],
  },
  'borrowed-32': {
    ...base,
    workloads: [
      { node: 'n1', ipNetworks: ['10.244.0.5/32', '10.244.0.70/32'] },
      { node: 'n2', ipNetworks: ['10.244.0.71/32'] },
    ],
  },
};
