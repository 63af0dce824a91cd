/**
 * The namespace, serviceaccount, workload-endpoint (pod) and policy controllers: each mirrors one
 * Kubernetes kind into the datastore, in the shape Tessera's policy engine reads (the same v1
 * Namespace / ServiceAccount / Pod and networking.k8s.io/v1 NetworkPolicy resources `tessera
 * apply` stores; the policy calculator derives the kns.<ns> and ksa.<ns>.<sa> profiles from the
 * first two). Pods are mirrored slim: name, namespace, labels, node, service account and named
 * container ports, never the whole object, and the pod controller also carries a pod's labels and
 * service account onto its WorkloadEndpoint, as Calico's workloadendpoint controller does.
 *
 * DESIGN
 * - Kubernetes is the truth; the datastore copy is a function of the informer's object. Each
 *   controller remembers a hash of what it last saw in or wrote to the datastore, so a restart
 *   (re-list both sides, compare) writes only the differences: no duplicate writes and, since a
 *   datastore key with no Kubernetes object is deleted, no lost deletes.
 * - A periodic reconcile (the section's `reconcilerPeriod`) re-reads the datastore side, which
 *   repairs edits made behind the controller's back.
 * - An object the validator rejects is reported (log line + metric + a Warning Event
 *   `FailedValidation` on the Kubernetes object) and skipped; it never stops this controller or the
 *   others.
 */
import { createHash } from 'node:crypto';
import {
  CALICO_API_VERSION,
  K8S_CORE_API_VERSION,
  kindFor,
  validateResource,
  wepName,
  type KindInfo,
  type Resource,
} from '../api/index.js';
import { encodeResource, kindPrefix, parseResourceKey, resourceKey } from '../datastore/index.js';
import { describeError, isTesseraError, validationError } from '../lib/errors.js';
import { KeyedQueue } from './queue.js';
import { objectKey, splitKey, type Controller, type ControllerContext } from './controller.js';
import type { ControllerInformer, SlimObject } from './informer.js';

export type MirrorName = 'namespace' | 'serviceaccount' | 'workloadendpoint' | 'policy';

interface MirrorRule {
  target: KindInfo;
  /** The datastore resource for a Kubernetes object; undefined = not mirrored. Throws on invalid input. */
  toResource(obj: SlimObject): Resource | undefined;
  /** Runs after the object's datastore copy changed (or was found unchanged on the first sync). */
  after?(ctx: ControllerContext, obj: SlimObject | undefined): Promise<void>;
}

const NAMESPACE = kindFor(K8S_CORE_API_VERSION, 'Namespace')!;
const SERVICE_ACCOUNT = kindFor(K8S_CORE_API_VERSION, 'ServiceAccount')!;
const POD = kindFor(K8S_CORE_API_VERSION, 'Pod')!;
const K8S_POLICY = kindFor('networking.k8s.io/v1', 'NetworkPolicy')!;
export const WEP_INFO = kindFor(CALICO_API_VERSION, 'WorkloadEndpoint')!;

const labelsOf = (o: SlimObject) =>
  o.metadata.labels && Object.keys(o.metadata.labels).length > 0 ? { labels: { ...o.metadata.labels } } : {};

export const MIRROR_RULES: Record<MirrorName, MirrorRule> = {
  namespace: {
    target: NAMESPACE,
    toResource: (o) => ({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: o.metadata.name, ...labelsOf(o) },
      spec: {},
    }),
  },
  serviceaccount: {
    target: SERVICE_ACCOUNT,
    toResource: (o) => ({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: o.metadata.name, namespace: o.metadata.namespace ?? 'default', ...labelsOf(o) },
    }),
  },
  workloadendpoint: {
    target: POD,
    toResource: (o) => {
      const spec = o.spec ?? {};
      // Host-network pods have no endpoint and no address of their own: nothing for policy.
      if (spec.hostNetwork === true) return undefined;
      const s: Record<string, unknown> = { containers: spec.containers ?? [] };
      if (typeof spec.nodeName === 'string') s.nodeName = spec.nodeName;
      s.serviceAccountName =
        typeof spec.serviceAccountName === 'string' && spec.serviceAccountName ? spec.serviceAccountName : 'default';
      return {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: o.metadata.name, namespace: o.metadata.namespace ?? 'default', ...labelsOf(o) },
        spec: s,
      };
    },
    after: syncWorkloadEndpoint,
  },
  policy: {
    target: K8S_POLICY,
    toResource: (o) => {
      const r: Resource = {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: o.metadata.name, namespace: o.metadata.namespace ?? 'default', ...labelsOf(o) },
        spec: o.spec ?? {},
      };
      const problems = validateResource(r);
      if (problems.length > 0)
        throw validationError(`cannot mirror NetworkPolicy "${r.metadata.namespace}/${r.metadata.name}"`, problems);
      return r;
    },
  },
};

const hashOf = (s: string) => createHash('sha1').update(s).digest('base64');

export interface MirrorOptions {
  reconcilerPeriodMs: number;
}

export class MirrorController implements Controller {
  private readonly rule: MirrorRule;
  private readonly queue: KeyedQueue;
  /** datastore key -> hash of the stored value, as last read or written. */
  private readonly stored = new Map<string, string>();
  private syncedFlag = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly onEvent = (o: SlimObject) => {
    const key = objectKey(o.metadata.name, o.metadata.namespace);
    this.fromEvent.add(key);
    this.queue.add(key);
  };
  /**
   * Keys queued by an informer event (not by a resync): for those the follow-up step runs even
   * when the mirrored copy is unchanged. A pod's status update (the kubelet writing its IPs right
   * after the CNI ADD wrote the endpoint) is what brings a just-created WorkloadEndpoint its
   * labels when the CNI plugin ran before the pod was mirrored.
   */
  private readonly fromEvent = new Set<string>();
  /** Objects the validator rejected, by key, with the reason. */
  readonly rejected = new Map<string, string>();

  constructor(
    readonly name: MirrorName,
    private readonly ctx: ControllerContext,
    private readonly informer: ControllerInformer,
    private readonly options: MirrorOptions,
  ) {
    this.rule = MIRROR_RULES[name];
    this.queue = new KeyedQueue((k) => this.sync(k), {
      onDepth: (d) => ctx.metrics.queueDepth.set({ controller: name }, d),
      onError: (key, err, attempt) => {
        ctx.metrics.errors.inc({ controller: name });
        ctx.logger.warn({ controller: name, key, attempt, err: describeError(err) }, 'sync failed; will retry');
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
    this.informer.on('add', this.onEvent);
    this.informer.on('update', this.onEvent);
    this.informer.on('delete', this.onEvent);
    await this.informer.waitSynced(signal);
    await this.resync();
    await this.queue.idle();
    this.syncedFlag = true;
    this.ctx.metrics.synced.set({ controller: this.name }, 1);
    this.ctx.logger.info({ controller: this.name, objects: this.stored.size }, 'synced');
    const period = this.options.reconcilerPeriodMs;
    if (period > 0) {
      this.timer = setInterval(() => {
        this.resync().catch((err: unknown) =>
          this.ctx.logger.warn({ controller: this.name, err: describeError(err) }, 'periodic reconcile failed'),
        );
      }, period);
      this.timer.unref?.();
    }
  }

  /** Re-reads the datastore side and queues every key on either side. */
  private async resync(): Promise<void> {
    const { items } = await this.ctx.backend.list(kindPrefix(this.rule.target));
    this.stored.clear();
    const keys = new Set<string>();
    for (const kv of items) {
      this.stored.set(kv.key, hashOf(kv.value));
      const parsed = parseResourceKey(kv.key);
      if (parsed) keys.add(objectKey(parsed.name, parsed.namespace));
    }
    for (const o of this.informer.list()) keys.add(objectKey(o.metadata.name, o.metadata.namespace));
    for (const k of keys) this.queue.add(k);
  }

  stop(): void {
    clearInterval(this.timer);
    this.informer.off('add', this.onEvent);
    this.informer.off('update', this.onEvent);
    this.informer.off('delete', this.onEvent);
    this.queue.stop();
  }

  idle(): Promise<void> {
    return this.queue.idle();
  }

  private async sync(key: string): Promise<void> {
    const { name, namespace } = splitKey(key);
    const obj = this.informer.get(name, namespace);
    const dsKey = resourceKey(
      this.rule.target,
      name,
      this.rule.target.namespaced ? (namespace ?? 'default') : undefined,
    );
    let desired: Resource | undefined;
    try {
      desired = obj ? this.rule.toResource(obj) : undefined;
      this.rejected.delete(key);
    } catch (err) {
      if (!isTesseraError(err, 'validation')) throw err;
      // Kubernetes accepted it but Tessera cannot enforce it: report, keep what is stored, go on.
      if (this.rejected.get(key) !== describeError(err)) {
        this.rejected.set(key, describeError(err));
        this.ctx.metrics.invalid.inc({ controller: this.name, kind: this.informer.resource.kind });
        this.ctx.logger.error(
          { controller: this.name, key, err: describeError(err) },
          "rejected by Tessera's validator; not mirrored",
        );
        const def = this.informer.resource;
        await this.ctx.events?.warning(
          {
            apiVersion: def.group ? `${def.group}/${def.version}` : def.version,
            kind: def.kind,
            name,
            ...(namespace ? { namespace } : {}),
            ...(obj?.metadata.uid ? { uid: obj.metadata.uid } : {}),
            ...(obj?.metadata.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}),
          },
          'FailedValidation',
          describeError(err),
        );
      }
      return;
    }
    if (desired) {
      const value = encodeResource(desired);
      const h = hashOf(value);
      const event = this.fromEvent.delete(key);
      if (this.stored.get(dsKey) !== h) {
        await this.ctx.backend.put(dsKey, value);
        this.stored.set(dsKey, h);
        this.ctx.metrics.writes.inc({ controller: this.name });
        await this.rule.after?.(this.ctx, obj);
      } else if (event) {
        await this.rule.after?.(this.ctx, obj);
      }
    } else if ((this.fromEvent.delete(key), this.stored.has(dsKey))) {
      await this.ctx.backend.delete(dsKey);
      this.stored.delete(dsKey);
      this.ctx.metrics.writes.inc({ controller: this.name });
      await this.rule.after?.(this.ctx, undefined);
    }
  }
}

/**
 * Carries a pod's labels, service account (and so its ksa profile) and named ports onto its
 * WorkloadEndpoint, keeping the projectcalico.org/* labels the CNI plugin set. CAS on the
 * endpoint's revision: a concurrent CNI write makes this fail and retry.
 */
async function syncWorkloadEndpoint(ctx: ControllerContext, pod: SlimObject | undefined): Promise<void> {
  if (!pod) return;
  const node = pod.spec?.nodeName;
  if (typeof node !== 'string' || node === '') return;
  const ns = pod.metadata.namespace ?? 'default';
  const key = resourceKey(WEP_INFO, wepName(node, 'k8s', pod.metadata.name, 'eth0'), ns);
  const kv = await ctx.backend.get(key);
  if (!kv) return;
  const wep = JSON.parse(kv.value) as Resource;
  const spec = (wep.spec ?? {}) as Record<string, unknown>;
  const sa =
    typeof pod.spec?.serviceAccountName === 'string' && pod.spec.serviceAccountName
      ? pod.spec.serviceAccountName
      : 'default';
  const own = Object.fromEntries(
    Object.entries(wep.metadata.labels ?? {}).filter(([k]) => k.startsWith('projectcalico.org/')),
  );
  const ports: { name: string; protocol: string; port: number }[] = [];
  for (const c of (pod.spec?.containers ?? []) as {
    ports?: { name: string; containerPort: number; protocol?: string }[];
  }[]) {
    for (const p of c.ports ?? []) ports.push({ name: p.name, protocol: p.protocol ?? 'TCP', port: p.containerPort });
  }
  const next: Resource = {
    ...wep,
    metadata: {
      ...wep.metadata,
      labels: { ...(pod.metadata.labels ?? {}), ...own, 'projectcalico.org/serviceaccount': sa },
    },
    spec: {
      ...spec,
      serviceAccountName: sa,
      profiles: [`kns.${ns}`, `ksa.${ns}.${sa}`],
      ...(ports.length > 0 ? { ports } : {}),
    },
  };
  if (ports.length === 0) delete (next.spec as Record<string, unknown>).ports;
  const value = encodeResource(next);
  if (value === encodeResource(wep)) return;
  await ctx.backend.update(key, value, kv.revision);
  ctx.metrics.writes.inc({ controller: 'workloadendpoint' });
}
