/**
 * A synthetic cluster as the other nodes' agents and CNI plugins would write it into the datastore:
 * Node resources (with a VXLAN tunnel), one affine IPAM block per node, WorkloadEndpoints, and
 * policies. Shared by `bench-agent` (grows through IPAM, a few writers at a time) and `bench-scale`
 * (150k endpoints, written in bulk transactions).
 */
import { lookupKind } from '../../src/api/index.js';
import { ipamKeys, openBackend, resourceKey, type Backend, type TxnOp } from '../../src/datastore/index.js';
import { hostAffinity, newBlock } from '../../src/ipam/index.js';
import { formatIp, parseCidr } from '../../src/lib/ip.js';
import { labUp, loadLab, podCreate, type LabState } from '../../src/lab/index.js';

const NODE = lookupKind('Node')!;
const WEP = lookupKind('WorkloadEndpoint')!;
const GNP = lookupKind('GlobalNetworkPolicy')!;
const POOL = lookupKind('IPPool')!;

export interface KeyValue {
  key: string;
  value: string;
}

/** Remote node `i`: a BGP address on 10.241/16 and a VXLAN tunnel (room for 65,536 nodes). */
export function remoteNode(i: number): KeyValue {
  const name = `remote-${i}`;
  const hi = (i >> 8) & 255;
  const lo = i & 255;
  const spec = {
    bgp: { ipv4Address: `10.241.${hi}.${lo}/16` },
    ipv4VXLANTunnelAddr: `10.243.${hi}.${lo}`,
    vxlanTunnelMACAddr: `66:00:00:00:${hi.toString(16).padStart(2, '0')}:${lo.toString(16).padStart(2, '0')}`,
  };
  return {
    key: resourceKey(NODE, name),
    value: JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'Node', metadata: { name }, spec }),
  };
}

/**
 * Endpoint number `n` (cluster-wide) of pod `pod` on `node`: namespace ns<n%10>, labels app=a<n%7>
 * (or `app`) and svc=s<n%1000> (what the bulk policies select on).
 */
export function endpoint(node: string, pod: string, ip: string, n: number, app?: string): KeyValue {
  const name = `${node}-k8s-${pod}-eth0`;
  const ns = `ns${n % 10}`;
  const labels = {
    app: app ?? `a${n % 7}`,
    svc: `s${n % 1000}`,
    'projectcalico.org/namespace': ns,
    'projectcalico.org/orchestrator': 'k8s',
  };
  const spec = { node, orchestrator: 'k8s', pod, endpoint: 'eth0', interfaceName: `tsr${n}`, ipNetworks: [`${ip}/32`] };
  return {
    key: resourceKey(WEP, name, ns),
    value: JSON.stringify({
      apiVersion: 'projectcalico.org/v3',
      kind: 'WorkloadEndpoint',
      metadata: { name, namespace: ns, labels },
      spec,
    }),
  };
}

/** The bulk pool: 10.128.0.0/12 of /26 blocks (16,384 blocks). */
export const BULK_POOL = '10.128.0.0/12';

export function bulkPool(): KeyValue {
  const spec = {
    cidr: BULK_POOL,
    blockSize: 26,
    vxlanMode: 'Always',
    ipipMode: 'Never',
    natOutgoing: false,
    nodeSelector: 'all()',
  };
  return {
    key: resourceKey(POOL, 'bulk'),
    value: JSON.stringify({ apiVersion: 'projectcalico.org/v3', kind: 'IPPool', metadata: { name: 'bulk' }, spec }),
  };
}

/** Block `i` of the bulk pool, affine to remote node `i`, holding `pods` addresses (ordinals 0..pods-1). */
export function bulkBlock(i: number, pods: number): { kvs: KeyValue[]; ips: string[] } {
  const base = parseCidr(BULK_POOL).value + BigInt(i) * 64n;
  const cidr = parseCidr(`${formatIp(4, base)}/26`);
  const host = `remote-${i}`;
  const block = newBlock(cidr, hostAffinity(host));
  const ips: string[] = [];
  for (let o = 0; o < pods; o++) {
    block.allocations[o] = o;
    ips.push(formatIp(4, base + BigInt(o)));
  }
  block.unallocated = block.unallocated.filter((o) => o >= pods);
  const text = block.cidr;
  return {
    kvs: [
      { key: ipamKeys.block(text), value: JSON.stringify(block) },
      { key: ipamKeys.affinity(host, text), value: JSON.stringify({ host, cidr: text, state: 'confirmed' }) },
    ],
    ips,
  };
}

/** Policy `i` of `count`: selects svc=s<i%1000> and allows TCP/80 from svc=s<(i+1)%1000>. */
export function bulkPolicy(i: number): KeyValue {
  const name = `default.bulk-${i}`;
  const spec = {
    order: 100 + i,
    selector: `svc == 's${i % 1000}'`,
    types: ['Ingress'],
    ingress: [
      {
        action: 'Allow',
        protocol: 'TCP',
        source: { selector: `svc == 's${(i + 1) % 1000}'` },
        destination: { ports: [80] },
      },
    ],
  };
  return {
    key: resourceKey(GNP, name),
    value: JSON.stringify({
      apiVersion: 'projectcalico.org/v3',
      kind: 'GlobalNetworkPolicy',
      metadata: { name },
      spec,
    }),
  };
}

/** Writes `kvs` in transactions of `batch` puts, `parallel` transactions at a time. */
export async function bulkPut(backend: Backend, kvs: readonly KeyValue[], batch = 1000, parallel = 4): Promise<void> {
  const chunks: TxnOp[][] = [];
  for (let i = 0; i < kvs.length; i += batch)
    chunks.push(kvs.slice(i, i + batch).map((kv) => ({ op: 'put' as const, ...kv })));
  for (let i = 0; i < chunks.length; i += parallel)
    await Promise.all(chunks.slice(i, i + parallel).map((c) => backend.txn(c)));
}

/**
 * The bulk cluster: `nodes` remote nodes with one block and `pods` endpoints each, `policies`
 * policies. Endpoint numbers start at `firstEndpoint`; returns how many endpoints were written.
 */
export async function writeBulkCluster(
  backend: Backend,
  o: { nodes: number; pods: number; policies: number; firstEndpoint?: number },
): Promise<number> {
  let n = o.firstEndpoint ?? 0;
  await bulkPut(backend, [bulkPool()]);
  const per = 100; // nodes per round: ~3,000 endpoints
  for (let i = 0; i < o.nodes; i += per) {
    const kvs: KeyValue[] = [];
    for (let j = i; j < Math.min(o.nodes, i + per); j++) {
      kvs.push(remoteNode(j));
      const b = bulkBlock(j, o.pods);
      kvs.push(...b.kvs);
      b.ips.forEach((ip, p) => kvs.push(endpoint(`remote-${j}`, `p${p}`, ip, n++)));
    }
    await bulkPut(backend, kvs);
  }
  await bulkPut(
    backend,
    Array.from({ length: o.policies }, (_, i) => bulkPolicy(i)),
  );
  return n - (o.firstEndpoint ?? 0);
}

/**
 * The agent under measurement: a 1-node VXLAN lab with one local pod (app=web) and a
 * GlobalNetworkPolicy `default.bench` selecting `selector`, whose rule matches remote endpoints
 * labelled app=a1 or app=a3 (2 in 7 of what `endpoint` writes).
 */
export async function agentBenchLab(
  name: string,
  env: NodeJS.ProcessEnv,
  selector: string,
): Promise<{ lab: LabState; backend: Backend }> {
  const lab = await labUp({ name, nodes: 1, encapsulation: 'vxlan' }, { env, setContext: false });
  await podCreate(loadLab(name, env), 'bench/local', { node: 'node-1', labels: { app: 'web' } });
  const backend = openBackend({ endpoints: lab.etcd!.endpoints });
  const policy = {
    apiVersion: 'projectcalico.org/v3',
    kind: 'GlobalNetworkPolicy',
    metadata: { name: 'default.bench' },
    spec: {
      selector,
      types: ['Ingress'],
      ingress: [
        {
          action: 'Allow',
          protocol: 'TCP',
          source: { selector: "app == 'a1' || app == 'a3'" },
          destination: { ports: [80] },
        },
      ],
    },
  };
  try {
    await backend.put(resourceKey(GNP, 'default.bench'), JSON.stringify(policy));
  } catch (err) {
    await backend.close().catch(() => undefined);
    throw err;
  }
  return { lab, backend };
}
