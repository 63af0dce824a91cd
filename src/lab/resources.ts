/**
 * The resources the lab writes (IPPools, Nodes, Namespaces, Pods, demo policies) and the small
 * datastore facade it writes them with (ResourceStore over etcd: uid, creationTimestamp and the
 * key layout are the datastore's, exactly as every other component reads them).
 */
import { kindFor } from '../api/index.js';
import type { KindInfo } from '../api/index.js';
import type { Resource } from '../api/index.js';
import { CALICO_API_VERSION, K8S_CORE_API_VERSION } from '../api/index.js';
import { ResourceStore, openBackend, type Backend } from '../datastore/index.js';
import { TesseraError, isTesseraError } from '../lib/errors.js';
import type { LabPlan, PodPort } from './plan.js';
import { poolModes } from './plan.js';

type Ref = Pick<Resource, 'apiVersion' | 'kind' | 'metadata'>;

export class LabDatastore {
  private readonly backend: Backend;
  private readonly store: ResourceStore;

  constructor(endpoints: string[]) {
    this.backend = openBackend({ endpoints });
    this.store = new ResourceStore(this.backend);
  }

  private info(r: Ref): KindInfo {
    const info = kindFor(r.apiVersion, r.kind);
    if (!info) throw new TesseraError('bug', `lab writes unknown kind "${r.apiVersion}/${r.kind}"`);
    return info;
  }

  private ns(info: KindInfo, r: Ref): string | undefined {
    return info.namespaced ? (r.metadata.namespace ?? 'default') : undefined;
  }

  /** Create or update. */
  async put(r: Resource): Promise<void> {
    const { resourceVersion: _rv, ...metadata } = r.metadata;
    await this.store.apply({ ...r, metadata });
  }

  /** Creates unless present; true when it created. */
  async ensure(r: Resource): Promise<boolean> {
    try {
      await this.store.create(r);
      return true;
    } catch (err) {
      if (isTesseraError(err, 'already-exists')) return false;
      throw err;
    }
  }

  /** Idempotent: a missing resource is success. */
  async delete(r: Ref): Promise<void> {
    const info = this.info(r);
    await this.store.delete(info, r.metadata.name, this.ns(info, r));
  }

  async get(r: Ref): Promise<Resource | undefined> {
    const info = this.info(r);
    return this.store.get(info, r.metadata.name, this.ns(info, r));
  }

  async close(): Promise<void> {
    await this.backend.close();
  }
}

export function ipPoolResources(plan: LabPlan): Resource[] {
  const modes = poolModes(plan.options.encapsulation);
  const pools: Resource[] = [
    {
      apiVersion: CALICO_API_VERSION,
      kind: 'IPPool',
      metadata: { name: 'default-ipv4-ippool' },
      spec: {
        cidr: plan.pool4,
        blockSize: 26,
        ipipMode: modes.ipipMode,
        vxlanMode: modes.vxlanMode,
        natOutgoing: false,
        nodeSelector: 'all()',
      },
    },
  ];
  if (plan.pool6) {
    pools.push({
      apiVersion: CALICO_API_VERSION,
      kind: 'IPPool',
      metadata: { name: 'default-ipv6-ippool' },
      spec: {
        cidr: plan.pool6,
        blockSize: 122,
        ipipMode: 'Never',
        vxlanMode: modes.vxlanMode,
        natOutgoing: false,
        nodeSelector: 'all()',
      },
    });
  }
  return pools;
}

/** Calico Node resources: the agent reads each node's address and subnet (CrossSubnet) from these. */
export function nodeResources(plan: LabPlan): Resource[] {
  return plan.nodes.map((n) => {
    const bgp: Record<string, string> = { ipv4Address: n.cidr4 };
    if (n.cidr6) bgp['ipv6Address'] = n.cidr6;
    const addresses = [{ address: n.cidr4, type: 'CalicoNodeIP' }];
    if (n.cidr6) addresses.push({ address: n.cidr6, type: 'CalicoNodeIP' });
    return {
      apiVersion: CALICO_API_VERSION,
      kind: 'Node',
      metadata: {
        name: n.name,
        labels: {
          'kubernetes.io/hostname': n.name,
          'tessera.dev/lab': plan.options.name,
          'tessera.dev/subnet': `subnet-${n.subnet}`,
        },
      },
      spec: { bgp, addresses },
    };
  });
}

export function bgpConfiguration(plan: LabPlan): Resource {
  return {
    apiVersion: CALICO_API_VERSION,
    kind: 'BGPConfiguration',
    metadata: { name: 'default' },
    spec: { nodeToNodeMeshEnabled: plan.options.routing === 'bgp', asNumber: 64512, logSeverityScreen: 'Info' },
  };
}

export function namespaceResource(ns: string): Resource {
  return {
    apiVersion: K8S_CORE_API_VERSION,
    kind: 'Namespace',
    metadata: { name: ns, labels: { 'kubernetes.io/metadata.name': ns } },
    spec: {},
  };
}

export function podResource(p: {
  namespace: string;
  name: string;
  node: string;
  labels: Record<string, string>;
  serviceAccount: string;
  ports: readonly PodPort[];
  ips?: string[];
}): Resource {
  const r: Resource = {
    apiVersion: K8S_CORE_API_VERSION,
    kind: 'Pod',
    metadata: { name: p.name, namespace: p.namespace, labels: { ...p.labels } },
    spec: {
      nodeName: p.node,
      serviceAccountName: p.serviceAccount,
      containers: [
        {
          name: 'server',
          image: 'tessera/lab-server',
          ports: p.ports.map((x) => ({ name: x.name, containerPort: x.port, protocol: x.protocol })),
        },
      ],
    },
  };
  if (p.ips && p.ips.length > 0) {
    r.status = { phase: 'Running', podIP: p.ips[0], podIPs: p.ips.map((ip) => ({ ip })) };
  }
  return r;
}
