/**
 * The node controller (Calico's): Kubernetes Nodes → Tessera Nodes.
 * - A Kubernetes Node deleted: its Tessera Node, block affinities, tunnel addresses, its
 *   workloads' addresses and its WorkloadEndpoints go. A block affine to it that still holds
 *   addresses (other nodes' pods borrowed them) is kept, with no affinity.
 * - `syncLabels`: the Kubernetes Node's labels are copied onto the Tessera Node; the copied set
 *   is remembered in the `projectcalico.org/kube-labels` annotation (as Calico does), so a label
 *   removed in Kubernetes is removed again and labels set on the Tessera Node itself stay.
 * - `hostEndpoint.autoCreate: Enabled`: `<node>-auto-hep` (interfaceName "*", expectedIPs = the
 *   node's addresses, the node's labels, profile projectcalico-default-allow), kept in step.
 *
 * DESIGN
 * - A Tessera Node is cleaned up only when its Kubernetes Node is known to be gone: either this
 *   process saw the Node, or the Tessera Node carries a k8s orchRef (set here when the Node is
 *   seen), so a Tessera Node that never had a Kubernetes Node is never touched.
 * - Cleanup is idempotent and removes the Tessera Node last: a crash half-way is finished by the
 *   retry or by the next start (the orchRef is still there).
 * - Tessera Node changes (an agent registering after its Kubernetes Node exists) are watched in
 *   the datastore so labels and the host endpoint follow without waiting for a periodic resync.
 */
import { CALICO_API_VERSION, kindFor, type Resource } from '../api/index.js';
import { encodeResource, ipamKeys, kindPrefix, parseResourceKey, resourceKey } from '../datastore/index.js';
import { IpamClient, allocationsOf, type AllocationBlock, type ReleaseTarget } from '../ipam/index.js';
import { sleep } from '../lib/clock.js';
import { describeError, isTesseraError } from '../lib/errors.js';
import { KeyedQueue } from './queue.js';
import type { Controller, ControllerContext } from './controller.js';
import type { ControllerInformer, SlimObject } from './informer.js';
import { WEP_INFO } from './mirror.js';

const NODE = kindFor(CALICO_API_VERSION, 'Node')!;
const HEP = kindFor(CALICO_API_VERSION, 'HostEndpoint')!;
const PROFILE = kindFor(CALICO_API_VERSION, 'Profile')!;
export const KUBE_LABELS_ANNOTATION = 'projectcalico.org/kube-labels';
export const DEFAULT_ALLOW_PROFILE = 'projectcalico-default-allow';
export const autoHepName = (node: string) => `${node}-auto-hep`;

export interface NodeControllerOptions {
  syncLabels: boolean;
  autoHostEndpoints: boolean;
  reconcilerPeriodMs: number;
}

type Obj = Record<string, unknown>;
const stripLen = (s: string) => (s.includes('/') ? s.slice(0, s.indexOf('/')) : s);

export class NodeController implements Controller {
  readonly name = 'node';
  private readonly queue: KeyedQueue;
  private readonly ipam: IpamClient;
  /** Kubernetes Nodes this process has seen (so a deletion is known to be one). */
  private readonly seen = new Set<string>();
  private syncedFlag = false;
  private timer: NodeJS.Timeout | undefined;
  private abort = new AbortController();
  private readonly onEvent = (o: SlimObject) => {
    this.seen.add(o.metadata.name);
    this.queue.add(o.metadata.name);
  };

  constructor(
    private readonly ctx: ControllerContext,
    private readonly nodes: ControllerInformer,
    private readonly options: NodeControllerOptions,
  ) {
    this.ipam = new IpamClient(ctx.backend);
    this.queue = new KeyedQueue((k) => this.sync(k), {
      onDepth: (d) => ctx.metrics.queueDepth.set({ controller: this.name }, d),
      onError: (key, err, attempt) => {
        ctx.metrics.errors.inc({ controller: this.name });
        ctx.logger.warn(
          { controller: this.name, key, attempt, err: describeError(err) },
          'node sync failed; will retry',
        );
      },
    });
  }

  get synced(): boolean {
    return this.syncedFlag;
  }

  get queueDepth(): number {
    return this.queue.depth;
  }

  async start(signal: AbortSignal): Promise<void> {
    this.abort = new AbortController();
    signal.addEventListener('abort', () => this.abort.abort(), { once: true });
    this.nodes.on('add', this.onEvent);
    this.nodes.on('update', this.onEvent);
    this.nodes.on('delete', this.onEvent);
    await this.nodes.waitSynced(signal);
    const revision = await this.resync();
    await this.queue.idle();
    this.syncedFlag = true;
    this.ctx.metrics.synced.set({ controller: this.name }, 1);
    void this.watchTesseraNodes(revision + 1);
    if (this.options.reconcilerPeriodMs > 0) {
      this.timer = setInterval(() => void this.resync().catch(() => undefined), this.options.reconcilerPeriodMs);
      this.timer.unref?.();
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.abort.abort();
    this.nodes.off('add', this.onEvent);
    this.nodes.off('update', this.onEvent);
    this.nodes.off('delete', this.onEvent);
    this.queue.stop();
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  private async resync(): Promise<number> {
    const { items, revision } = await this.ctx.backend.list(kindPrefix(NODE));
    for (const kv of items) this.queue.add(kv.key.slice(kv.key.lastIndexOf('/') + 1));
    for (const o of this.nodes.list()) this.onEvent(o);
    return revision;
  }

  private async watchTesseraNodes(from: number): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        for await (const events of this.ctx.backend.watch(kindPrefix(NODE), { fromRevision: from, signal })) {
          for (const e of events) {
            const key = e.type === 'put' ? e.kv.key : e.key;
            from = (e.type === 'put' ? e.kv.revision : e.revision) + 1;
            const parsed = parseResourceKey(key);
            if (parsed) this.queue.add(parsed.name);
          }
        }
      } catch (err) {
        if (signal.aborted) return;
        if (isTesseraError(err, 'compacted')) from = (await this.resync().catch(() => from - 1)) + 1;
        else await sleep(1000, signal).catch(() => undefined);
      }
    }
  }

  private async sync(name: string): Promise<void> {
    if (!this.nodes.synced) throw new Error('the Kubernetes Node informer has not synced yet');
    const k8s = this.nodes.get(name);
    const key = resourceKey(NODE, name);
    const kv = await this.ctx.backend.get(key);
    if (!k8s) {
      if (!kv) return;
      const node = JSON.parse(kv.value) as Resource;
      const refs = ((node.spec ?? {}) as Obj).orchRefs;
      const k8sRef = Array.isArray(refs) && refs.some((r) => (r as Obj).orchestrator === 'k8s');
      if (this.seen.has(name) || k8sRef) await this.cleanup(name);
      return;
    }
    if (!kv) return; // its agent has not registered yet; the datastore watch brings it back here
    const node = JSON.parse(kv.value) as Resource;
    const next = this.desiredNode(node, k8s);
    const value = encodeResource(next);
    if (value !== encodeResource(node)) {
      await this.ctx.backend.update(key, value, kv.revision);
      this.ctx.metrics.writes.inc({ controller: this.name });
    }
    if (this.options.autoHostEndpoints) await this.ensureHostEndpoint(next, k8s);
    else await this.deleteIfPresent(resourceKey(HEP, autoHepName(name)));
  }

  private desiredNode(node: Resource, k8s: SlimObject): Resource {
    const spec = { ...((node.spec ?? {}) as Obj) };
    const refs = Array.isArray(spec.orchRefs) ? (spec.orchRefs as Obj[]) : [];
    if (!refs.some((r) => r.orchestrator === 'k8s'))
      spec.orchRefs = [...refs, { nodeName: k8s.metadata.name, orchestrator: 'k8s' }];
    const metadata = { ...node.metadata };
    if (this.options.syncLabels) {
      const kube = k8s.metadata.labels ?? {};
      let before: Record<string, string> = {};
      try {
        before = JSON.parse(metadata.annotations?.[KUBE_LABELS_ANNOTATION] ?? '{}') as Record<string, string>;
      } catch {
        // unreadable annotation: treat as nothing synced before
      }
      const labels = { ...(metadata.labels ?? {}) };
      for (const k of Object.keys(before)) if (!(k in kube)) delete labels[k];
      Object.assign(labels, kube);
      metadata.labels = labels;
      metadata.annotations = { ...(metadata.annotations ?? {}), [KUBE_LABELS_ANNOTATION]: JSON.stringify(kube) };
    }
    return { ...node, metadata, spec };
  }

  private async ensureHostEndpoint(node: Resource, k8s: SlimObject): Promise<void> {
    const spec = (node.spec ?? {}) as Obj;
    const ips = new Set<string>();
    const bgp = (spec.bgp ?? {}) as Obj;
    for (const v of [
      bgp.ipv4Address,
      bgp.ipv6Address,
      spec.ipv4VXLANTunnelAddr,
      spec.ipv6VXLANTunnelAddr,
      spec.ipv4IPIPTunnelAddr,
    ]) {
      if (typeof v === 'string' && v !== '') ips.add(stripLen(v));
    }
    for (const a of Array.isArray(spec.addresses) ? (spec.addresses as Obj[]) : [])
      if (typeof a.address === 'string') ips.add(stripLen(a.address));
    for (const a of (k8s.status?.addresses ?? []) as Obj[]) {
      if ((a.type === 'InternalIP' || a.type === 'ExternalIP') && typeof a.address === 'string') ips.add(a.address);
    }
    const name = node.metadata.name;
    const hep: Resource = {
      apiVersion: CALICO_API_VERSION,
      kind: 'HostEndpoint',
      metadata: { name: autoHepName(name), labels: { ...(node.metadata.labels ?? {}) } },
      spec: { node: name, interfaceName: '*', expectedIPs: [...ips].sort(), profiles: [DEFAULT_ALLOW_PROFILE] },
    };
    await this.putIfChanged(resourceKey(HEP, autoHepName(name)), hep);
    const profileKey = resourceKey(PROFILE, DEFAULT_ALLOW_PROFILE);
    if (!(await this.ctx.backend.get(profileKey))) {
      const profile: Resource = {
        apiVersion: CALICO_API_VERSION,
        kind: 'Profile',
        metadata: { name: DEFAULT_ALLOW_PROFILE },
        spec: { ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] },
      };
      await this.ctx.backend.create(profileKey, encodeResource(profile)).catch((err: unknown) => {
        if (!isTesseraError(err, 'already-exists')) throw err;
      });
    }
  }

  private async putIfChanged(key: string, r: Resource): Promise<void> {
    const cur = await this.ctx.backend.get(key);
    const value = encodeResource(r);
    if (cur?.value === value) return;
    await this.ctx.backend.put(key, value);
    this.ctx.metrics.writes.inc({ controller: this.name });
  }

  private async deleteIfPresent(key: string): Promise<void> {
    if (await this.ctx.backend.delete(key)) this.ctx.metrics.writes.inc({ controller: this.name });
  }

  /** Everything the deleted node held, the Tessera Node last. */
  async cleanup(name: string): Promise<void> {
    const { backend, logger } = this.ctx;
    // 1. Its workload endpoints.
    const weps = await backend.list(kindPrefix(WEP_INFO));
    let endpoints = 0;
    for (const kv of weps.items) {
      if (!kv.value.includes(`"node":${JSON.stringify(name)}`)) continue;
      const spec = (JSON.parse(kv.value) as Resource).spec as Obj | undefined;
      if (spec?.node !== name) continue;
      await backend.delete(kv.key, kv.revision).catch((err: unknown) => {
        if (!isTesseraError(err, 'conflict')) throw err;
      });
      endpoints++;
    }
    // 2. Its addresses (workloads, borrowed ones included, and tunnels), each by handle and
    //    sequence number.
    const blocks = await backend.list(ipamKeys.blocksPrefix);
    const targets: ReleaseTarget[] = [];
    const tunnel = new RegExp(
      `^(?:ipip|vxlan|vxlan-v6|wireguard|wireguard-v6)-tunnel-addr-${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`,
    );
    for (const kv of blocks.items) {
      let b: AllocationBlock;
      try {
        b = JSON.parse(kv.value) as AllocationBlock;
      } catch {
        continue;
      }
      for (const a of allocationsOf(b)) {
        if (a.handleId === null) continue;
        if (a.secondary?.node !== name && !tunnel.test(a.handleId)) continue;
        targets.push({
          address: a.address,
          handleId: a.handleId,
          ...(a.sequenceNumber !== undefined ? { sequenceNumber: a.sequenceNumber } : {}),
        });
      }
    }
    const released = targets.length > 0 ? await this.ipam.releaseIps(targets) : { released: [] };
    // 3. Its block affinities (a block still holding others' addresses stays, unaffine).
    await this.ipam.releaseHostAffinities(name);
    // 4. Its auto host endpoint, 5. the Tessera Node.
    await this.deleteIfPresent(resourceKey(HEP, autoHepName(name)));
    await this.deleteIfPresent(resourceKey(NODE, name));
    this.seen.delete(name);
    logger.info(
      { controller: this.name, node: name, endpoints, released: released.released.length },
      'cleaned up after deleted Kubernetes node',
    );
  }
}
