/** A small but feature-complete policy world shared by the renderer's golden test and the nft integration test. */
import { PolicyCalculator } from '../../policy/index.js';

export function fixtureCalculator(): PolicyCalculator {
  const c = new PolicyCalculator({ nodeName: 'n1' });
  c.apply({ kind: 'Namespace', key: 'x', value: { name: 'x', labels: { team: 'red' } } });
  c.apply({ kind: 'Tier', key: 'sec', value: { name: 'sec', order: 10, defaultAction: 'Pass' } });
  for (const [i, n] of ['a', 'b'].entries()) {
    c.apply({
      kind: 'WorkloadEndpoint',
      key: `x/${n}`,
      value: {
        name: n,
        namespace: 'x',
        node: 'n1',
        interfaceName: `tsr${n}`,
        ipNetworks: [`10.0.0.${i + 1}/32`, `fd00::${i + 1}/128`],
        labels: { pod: n },
        ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
      },
    });
  }
  c.apply({
    kind: 'WorkloadEndpoint',
    key: 'x/r',
    value: {
      name: 'r',
      namespace: 'x',
      node: 'n2',
      interfaceName: 'tsrr',
      ipNetworks: ['10.0.1.9/32'],
      labels: { pod: 'b' },
    },
  });
  c.apply({
    kind: 'NetworkSet',
    key: 'ext',
    value: { name: 'ext', nets: ['192.168.0.0/16', '192.168.1.0/24', '2001:db8::/32'], labels: { role: 'ext' } },
  });
  c.apply({
    kind: 'Policy',
    key: 'p1',
    value: {
      kind: 'GlobalNetworkPolicy',
      name: 'p1',
      spec: {
        tier: 'sec',
        order: 1,
        selector: 'pod == "a"',
        types: ['Ingress', 'Egress'],
        ingress: [
          { action: 'Log' },
          { action: 'Deny', protocol: 'ICMP', icmp: { type: 8, code: 0 } },
          { action: 'Allow', protocol: 'ICMP', notICMP: { type: 8, code: 0 } },
          { action: 'Pass', source: { selector: 'role == "ext"', namespaceSelector: 'global()' } },
        ],
        egress: [
          {
            action: 'Allow',
            protocol: 'TCP',
            destination: { ports: ['http', 80, '1000:2000'], notNets: ['10.9.0.0/16'] },
          },
        ],
      },
    },
  });
  // A run of Allow-only policies in the default tier (with k below): one (protocol . port) map lookup.
  const runRules = [
    [{ action: 'Allow', protocol: 'TCP', destination: { ports: [80, '8000:8100'] } }],
    [
      { action: 'Allow', protocol: 'TCP', destination: { ports: [8080] } },
      { action: 'Allow', protocol: 'UDP', source: { nets: ['10.1.0.0/16'] }, destination: { ports: [53] } },
    ],
    [{ action: 'Allow', protocol: 'TCP', source: { selector: 'pod == "b"' } }],
  ] as const;
  runRules.forEach((rules, i) => {
    c.apply({
      kind: 'Policy',
      key: `run${i}`,
      value: {
        kind: 'GlobalNetworkPolicy',
        name: `run${i}`,
        spec: {
          order: 2 + i,
          selector: 'pod == "a"',
          types: ['Ingress', 'Egress'],
          ingress: [...rules],
          egress: [...rules],
        },
      },
    });
  });
  c.apply({
    kind: 'K8sNetworkPolicy',
    key: 'x/k',
    value: {
      name: 'k',
      namespace: 'x',
      spec: {
        podSelector: {},
        ingress: [
          {
            from: [
              { podSelector: { matchLabels: { pod: 'b' } } },
              { ipBlock: { cidr: '10.0.0.0/8', except: ['10.0.0.2/32'] } },
            ],
            ports: [{ port: 'http' }, { port: 81, endPort: 90, protocol: 'UDP' }, { protocol: 'SCTP', port: 80 }],
          },
        ],
      },
    },
  });
  return c;
}
