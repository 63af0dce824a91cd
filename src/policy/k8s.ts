/**
 * Kubernetes NetworkPolicy → Calico policy, as libcalico-go's converter does:
 * `knp.default.<name>` in tier `default` at order 1000; one Calico rule per (peer × port);
 * pod selectors gain `projectcalico.org/orchestrator == "k8s"`; an `ipBlock` becomes `nets` + `notNets`
 * (its `except`) in the same rule; a missing/empty `from`/`to` or `ports` list means "any".
 */
import { labelSelectorToSelector, printSelector, andSelectors, type Selector } from '../api/selector/index.js';
import { validationError } from '../lib/errors.js';
import { ORCHESTRATOR_LABEL } from './rules.js';
import type {
  EntityRuleSpec,
  K8sLabelSelector,
  K8sNetworkPolicyInput,
  K8sNetworkPolicyPeer,
  K8sNetworkPolicyPort,
  PolicyInput,
  PolicyType,
  RuleSpec,
} from './types.js';

export const K8S_POLICY_PREFIX = 'knp.default.';
export const K8S_POLICY_ORDER = 1000;

const k8sPods: Selector = { kind: 'eq', key: ORCHESTRATOR_LABEL, value: 'k8s' };

function podSelector(ls: K8sLabelSelector | null | undefined): string {
  return printSelector(andSelectors(k8sPods, labelSelectorToSelector(ls)));
}

function peerFields(peer: K8sNetworkPolicyPeer | undefined, path: string): EntityRuleSpec {
  if (!peer) return {};
  if (peer.ipBlock) {
    if (peer.podSelector || peer.namespaceSelector) {
      throw validationError('invalid NetworkPolicy peer', [
        { path, message: 'ipBlock cannot be combined with selectors' },
      ]);
    }
    const out: { nets: string[]; notNets?: string[] } = { nets: [peer.ipBlock.cidr] };
    if (peer.ipBlock.except?.length) out.notNets = [...peer.ipBlock.except];
    return out;
  }
  const out: { selector: string; namespaceSelector?: string } = { selector: podSelector(peer.podSelector) };
  // An empty namespaceSelector ({}) means every namespace: Calico writes `all()`.
  if (peer.namespaceSelector) out.namespaceSelector = printSelector(labelSelectorToSelector(peer.namespaceSelector));
  return out;
}

function portFields(p: K8sNetworkPolicyPort | undefined): { protocol?: string; ports?: (number | string)[] } {
  if (!p) return {};
  const protocol = (p.protocol ?? 'TCP').toUpperCase();
  if (p.port === undefined || p.port === null) return { protocol };
  if (typeof p.port === 'number' && p.endPort !== undefined && p.endPort !== null) {
    return { protocol, ports: [`${p.port}:${p.endPort}`] };
  }
  return { protocol, ports: [p.port] };
}

function convertRules(
  rules: readonly {
    peers?: K8sNetworkPolicyPeer[] | null | undefined;
    ports?: K8sNetworkPolicyPort[] | null | undefined;
  }[],
  dir: 'ingress' | 'egress',
  path: string,
): RuleSpec[] {
  const out: RuleSpec[] = [];
  rules.forEach((r, i) => {
    const peers: (K8sNetworkPolicyPeer | undefined)[] = r.peers?.length ? r.peers : [undefined];
    const ports: (K8sNetworkPolicyPort | undefined)[] = r.ports?.length ? r.ports : [undefined];
    peers.forEach((peer, j) => {
      const peerEntity = peerFields(peer, `${path}[${i}].${dir === 'ingress' ? 'from' : 'to'}[${j}]`);
      for (const port of ports) {
        const { protocol, ports: pp } = portFields(port);
        const rule: { -readonly [K in keyof RuleSpec]: RuleSpec[K] } = { action: 'Allow' };
        if (protocol !== undefined) rule.protocol = protocol;
        const dstPorts: EntityRuleSpec = pp ? { ports: pp } : {};
        if (dir === 'ingress') {
          rule.source = peerEntity;
          rule.destination = dstPorts;
        } else {
          rule.destination = { ...peerEntity, ...dstPorts };
        }
        out.push(rule);
      }
    });
  });
  return out;
}

export function convertK8sNetworkPolicy(np: K8sNetworkPolicyInput): PolicyInput {
  const spec = np.spec ?? {};
  let types: PolicyType[];
  if (spec.policyTypes?.length) types = [...spec.policyTypes];
  else types = spec.egress?.length ? ['Ingress', 'Egress'] : ['Ingress'];
  const ingress = convertRules(
    (spec.ingress ?? []).map((r) => ({ peers: r.from, ports: r.ports })),
    'ingress',
    'spec.ingress',
  );
  const egress = convertRules(
    (spec.egress ?? []).map((r) => ({ peers: r.to, ports: r.ports })),
    'egress',
    'spec.egress',
  );
  return {
    kind: 'NetworkPolicy',
    name: K8S_POLICY_PREFIX + np.name,
    namespace: np.namespace,
    spec: {
      tier: 'default',
      order: K8S_POLICY_ORDER,
      selector: podSelector(spec.podSelector),
      types,
      ingress: types.includes('Ingress') ? ingress : [],
      egress: types.includes('Egress') ? egress : [],
    },
  };
}
