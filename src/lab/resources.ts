/**
 * The resources the lab writes (IPPools, Nodes, Namespaces, Pods, demo policies) and the small
 * datastore client it writes them with.
 *
 * The client writes straight to the shared key layout (`datastore/keys.ts`: JSON value without
 * `metadata.resourceVersion`) through the etcd3 client, so the lab works before and independently
 * of the ResourceStore; what it writes is exactly what ResourceStore reads.
 */
import { Etcd3 } from 'etcd3';
import { kindFor } from '../api/kinds.js';
import type { Resource } from '../api/resource.js';
import { CALICO_API_VERSION, K8S_CORE_API_VERSION } from '../api/resource.js';
import { resourceKey } from '../datastore/keys.js';
import { TesseraError } from '../lib/errors.js';
import type { LabPlan, PodPort } from './plan.js';
import { poolModes } from './plan.js';

export class LabDatastore {
  private readonly client: Etcd3;

  constructor(endpoints: string[]) {
    this.client = new Etcd3({ hosts: endpoints, dialTimeout: 5000 });
  }

  private key(r: Pick<Resource, 'apiVersion' | 'kind' | 'metadata'>): string {
    const info = kindFor(r.apiVersion, r.kind);
    if (!info) throw new TesseraError('bug', `lab writes unknown kind "${r.apiVersion}/${r.kind}"`);
    return resourceKey(info, r.metadata.name, info.namespaced ? (r.metadata.namespace ?? 'default') : undefined);
  }

  async put(r: Resource): Promise<void> {
    const { resourceVersion: _rv, ...metadata } = r.metadata;
    const stored = { ...r, metadata };
    try {
      await this.client.put(this.key(r)).value(JSON.stringify(stored));
    } catch (err) {
      throw new TesseraError('unavailable', `cannot write ${r.kind} "${r.metadata.namespace ? `${r.metadata.namespace}/` : ''}${r.metadata.name}"`, { cause: err });
    }
  }

  /** Creates unless present; true when it created. */
  async ensure(r: Resource): Promise<boolean> {
    const key = this.key(r);
    try {
      const res = await this.client
        .if(key, 'Create', '==', 0)
        .then(this.client.put(key).value(JSON.stringify(r)))
        .commit();
      return res.succeeded;
    } catch (err) {
      throw new TesseraError('unavailable', `cannot create ${r.kind} "${r.metadata.name}"`, { cause: err });
    }
  }

  async delete(r: Pick<Resource, 'apiVersion' | 'kind' | 'metadata'>): Promise<void> {
    try {
      await this.client.delete().key(this.key(r));
    } catch (err) {
      throw new TesseraError('unavailable', `cannot delete ${r.kind} "${r.metadata.name}"`, { cause: err });
    }
  }

  async get(r: Pick<Resource, 'apiVersion' | 'kind' | 'metadata'>): Promise<Resource | undefined> {
    try {
      const text = await this.client.get(this.key(r)).string();
      return text === null ? undefined : (JSON.parse(text) as Resource);
    } catch (err) {
      throw new TesseraError('unavailable', `cannot read ${r.kind} "${r.metadata.name}"`, { cause: err });
    }
  }

  close(): void {
    this.client.close();
  }
}

export function ipPoolResources(plan: LabPlan): Resource[] {
  const modes = poolModes(plan.options.encapsulation);
  const pools: Resource[] = [
    {
      apiVersion: CALICO_API_VERSION,
      kind: 'IPPool',
      metadata: { name: 'default-ipv4-ippool' },
      spec: { cidr: plan.pool4, blockSize: 26, ipipMode: modes.ipipMode, vxlanMode: modes.vxlanMode, natOutgoing: false, nodeSelector: 'all()' },
    },
  ];
  if (plan.pool6) {
    pools.push({
      apiVersion: CALICO_API_VERSION,
      kind: 'IPPool',
      metadata: { name: 'default-ipv6-ippool' },
      spec: { cidr: plan.pool6, blockSize: 122, ipipMode: 'Never', vxlanMode: modes.vxlanMode, natOutgoing: false, nodeSelector: 'all()' },
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
      metadata: { name: n.name, labels: { 'kubernetes.io/hostname': n.name, 'tessera.dev/lab': plan.options.name, 'tessera.dev/subnet': `subnet-${n.subnet}` } },
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
