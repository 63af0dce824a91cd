/**
 * Informers over the Kubernetes API, built on @kubernetes/client-node's ListWatch: list, then
 * watch from the list's resourceVersion; a watch that ends cleanly resumes from the last
 * resourceVersion seen (events and bookmarks both advance it), `410 Gone` re-lists, and any
 * other failure restarts after an exponential backoff, still from the kept resourceVersion.
 *
 * What this adds to ListWatch:
 * - `allowWatchBookmarks=true` on every watch (ListWatch does not ask for bookmarks);
 * - the backoff-and-restart (ListWatch stops on an error and leaves restarting to its user);
 * - paged lists (`limit` + `continue`), and a `slim` step on every object before it is cached:
 *   the cache holds only the fields the controllers read, so 150k pods stay small in memory;
 * - an in-sync signal: the first list has been applied to the cache.
 */
import { ListWatch, type KubeConfig, type KubernetesObject, type Watch } from '@kubernetes/client-node';
import type { Informer, ObjectCache } from '@kubernetes/client-node';
import { describeError } from '../lib/errors.js';
import { collectionPath, type KubeResourceDef } from './kube-api.js';

/** What the controllers keep of a Kubernetes object. */
export interface SlimObject extends KubernetesObject {
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

/** The informer the controllers consume (client-node's Informer + ObjectCache, plus sync state). */
export interface ControllerInformer extends Informer<SlimObject>, ObjectCache<SlimObject> {
  readonly resource: KubeResourceDef;
  readonly synced: boolean;
  /** Resolves once the first list is in the cache. */
  waitSynced(signal?: AbortSignal): Promise<void>;
}

/** The part of client-node's Watch an informer uses (tests pass a fake). */
export interface WatchLike {
  watch(
    path: string,
    queryParams: Record<string, unknown>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController>;
}

export interface ListPage {
  metadata?: { resourceVersion?: string; _continue?: string; continue?: string };
  items: unknown[];
}
export type PageListFn = (opts: { limit: number; continue?: string }) => Promise<ListPage>;

export interface KubeInformerOptions {
  resource: KubeResourceDef;
  watch: WatchLike;
  list: PageListFn;
  slim: (obj: unknown) => SlimObject;
  pageSize?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  onError?: (err: unknown, retryInMs: number) => void;
}

export class KubeInformer implements ControllerInformer {
  readonly resource: KubeResourceDef;
  private readonly lw: ListWatch<SlimObject>;
  private syncedFlag = false;
  private syncWaiters: (() => void)[] = [];
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = true;
  /** Full lists done (the first one, plus one per 410 Gone / lost resourceVersion). */
  lists = 0;
  /** Watches opened, and the resourceVersion each one started from. */
  readonly watchesFrom: string[] = [];

  constructor(private readonly options: KubeInformerOptions) {
    this.resource = options.resource;
    const watch: WatchLike = {
      watch: (path, params, cb, done) => {
        this.watchesFrom.push(String(params.resourceVersion ?? ''));
        return options.watch.watch(
          path,
          { ...params, allowWatchBookmarks: true },
          (phase, obj, w) => {
            this.failures = 0;
            if (phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED') cb(phase, options.slim(obj), w);
            else cb(phase, obj, w);
          },
          done,
        );
      },
    };
    this.lw = new ListWatch<SlimObject>(
      collectionPath(options.resource),
      watch as unknown as Watch,
      () => this.listAll(),
      false,
    );
    this.lw.on('error', (err: unknown) => this.retry(err));
  }

  private async listAll(): Promise<{ metadata: { resourceVersion: string }; items: SlimObject[] }> {
    const items: SlimObject[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await this.options.list({
        limit: this.options.pageSize ?? 500,
        ...(cont ? { continue: cont } : {}),
      });
      for (const o of page.items) items.push(this.options.slim(o));
      rv = page.metadata?.resourceVersion ?? rv;
      cont = page.metadata?._continue ?? page.metadata?.continue ?? undefined;
    } while (cont);
    this.lists++;
    this.failures = 0;
    // ListWatch applies the list to its cache in the continuation right after this promise
    // resolves; setImmediate runs after that continuation.
    setImmediate(() => this.markSynced());
    return { metadata: { resourceVersion: rv }, items };
  }

  private markSynced(): void {
    if (this.syncedFlag) return;
    this.syncedFlag = true;
    const w = this.syncWaiters;
    this.syncWaiters = [];
    for (const f of w) f();
  }

  private retry(err: unknown): void {
    if (this.stopped) return;
    this.failures++;
    const delay = Math.min(
      this.options.backoffMaxMs ?? 30_000,
      (this.options.backoffBaseMs ?? 500) * 2 ** Math.min(this.failures - 1, 16),
    );
    this.options.onError?.(err, delay);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (!this.stopped) void this.lw.start();
    }, delay);
    this.retryTimer.unref?.();
  }

  get synced(): boolean {
    return this.syncedFlag;
  }

  waitSynced(signal?: AbortSignal): Promise<void> {
    if (this.syncedFlag) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.syncWaiters.push(resolve);
      signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }

  /** The resourceVersion the next watch resumes from ('' = the next start lists first). */
  latestResourceVersion(): string {
    return this.lw.latestResourceVersion();
  }

  on(verb: 'add' | 'update' | 'delete' | 'change', cb: (obj: SlimObject) => void): void;
  on(verb: 'error' | 'connect', cb: (err?: unknown) => void): void;
  on(verb: string, cb: (arg: never) => void): void {
    this.lw.on(verb as 'add', cb as (o: SlimObject) => void);
  }
  off(verb: 'add' | 'update' | 'delete' | 'change', cb: (obj: SlimObject) => void): void;
  off(verb: 'error' | 'connect', cb: (err?: unknown) => void): void;
  off(verb: string, cb: (arg: never) => void): void {
    this.lw.off(verb as 'add', cb as (o: SlimObject) => void);
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.lw.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await this.lw.stop();
  }

  get(name: string, namespace?: string): SlimObject | undefined {
    return this.lw.get(name, namespace);
  }

  list(namespace?: string): readonly SlimObject[] {
    return this.lw.list(namespace);
  }
}

// ---- slimming: the fields each controller reads, nothing else ---------------------------------
//
// At 150k pods the cache is most of the process's memory, so a slim pod is also deduplicated:
// short strings (namespaces, node and service-account names, label keys and values, phases) are
// interned, and identical label maps and pod specs (pods of one template on one node) are one
// shared, frozen object. Nothing downstream mutates cached objects (they are copied before use).

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Bounded interning of strings and of frozen sub-objects keyed by their JSON. */
class Interner {
  private strings = new Map<string, string>();
  private objects = new Map<string, object>();
  constructor(private readonly max = 500_000) {}

  str<T>(s: T): T {
    if (typeof s !== 'string' || s.length > 64) return s;
    const v = this.strings.get(s);
    if (v !== undefined) return v as T;
    if (this.strings.size >= this.max) this.strings.clear();
    this.strings.set(s, s);
    return s;
  }

  /** One shared frozen copy of `o` (built by the caller from interned strings). */
  obj<T extends object>(o: T): T {
    const key = JSON.stringify(o);
    const v = this.objects.get(key);
    if (v !== undefined) return v as T;
    if (this.objects.size >= this.max) this.objects.clear();
    this.objects.set(key, Object.freeze(o));
    return o;
  }
}

const interner = new Interner();

function slimMeta(o: Obj): SlimObject['metadata'] {
  const m = isObj(o.metadata) ? o.metadata : {};
  const out: SlimObject['metadata'] = { name: String(m.name ?? '') };
  if (typeof m.namespace === 'string') out.namespace = interner.str(m.namespace);
  if (typeof m.uid === 'string') out.uid = m.uid;
  if (typeof m.resourceVersion === 'string') out.resourceVersion = m.resourceVersion;
  if (isObj(m.labels)) {
    const labels: Record<string, string> = {};
    for (const k of Object.keys(m.labels).sort()) labels[interner.str(k)] = interner.str(String(m.labels[k]));
    out.labels = interner.obj(labels);
  }
  return out;
}

function slimPod(o: Obj): SlimObject {
  const spec = isObj(o.spec) ? o.spec : {};
  const status = isObj(o.status) ? o.status : {};
  const containers: Obj[] = [];
  for (const c of Array.isArray(spec.containers) ? spec.containers : []) {
    if (!isObj(c)) continue;
    // Only named ports matter to policy (a rule's named port resolves per endpoint).
    const ports = (Array.isArray(c.ports) ? c.ports : []).filter(
      (p): p is Obj => isObj(p) && typeof p.name === 'string' && p.name !== '',
    );
    const name = interner.str(c.name);
    containers.push(
      ports.length > 0
        ? {
            name,
            ports: ports.map((p) => ({
              name: interner.str(p.name),
              containerPort: p.containerPort,
              protocol: interner.str(p.protocol ?? 'TCP'),
            })),
          }
        : { name },
    );
  }
  const s: Obj = { containers };
  if (typeof spec.nodeName === 'string') s.nodeName = interner.str(spec.nodeName);
  if (typeof spec.serviceAccountName === 'string') s.serviceAccountName = interner.str(spec.serviceAccountName);
  if (spec.hostNetwork === true) s.hostNetwork = true;
  const st: Obj = {};
  if (typeof status.phase === 'string') st.phase = interner.str(status.phase);
  if (Array.isArray(status.podIPs)) st.podIPs = status.podIPs.filter(isObj).map((p) => ({ ip: p.ip }));
  else if (typeof status.podIP === 'string') st.podIPs = [{ ip: status.podIP }];
  return { metadata: slimMeta(o), spec: interner.obj(s), status: st };
}

function slimNode(o: Obj): SlimObject {
  const status = isObj(o.status) ? o.status : {};
  const addresses = (Array.isArray(status.addresses) ? status.addresses : [])
    .filter(isObj)
    .map((a) => ({ type: a.type, address: a.address }));
  return { metadata: slimMeta(o), status: { addresses } };
}

/** NetworkPolicies are mirrored whole (they are small and policy reads every field). */
function slimPolicy(o: Obj): SlimObject {
  return { metadata: slimMeta(o), spec: isObj(o.spec) ? (structuredClone(o.spec) as Obj) : {} };
}

export function slimFor(resource: KubeResourceDef['resource']): (obj: unknown) => SlimObject {
  return (obj) => {
    const o = isObj(obj) ? obj : {};
    switch (resource) {
      case 'pods':
        return slimPod(o);
      case 'nodes':
        return slimNode(o);
      case 'networkpolicies':
        return slimPolicy(o);
      default:
        return { metadata: slimMeta(o) };
    }
  };
}

/** A list function over the real API, for one resource of the KUBE_RESOURCES table. */
export async function kubeListFn(kc: KubeConfig, def: KubeResourceDef): Promise<PageListFn> {
  const k8s = await import('@kubernetes/client-node');
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const net = kc.makeApiClient(k8s.NetworkingV1Api);
  return async ({ limit, continue: cont }) => {
    const p = { limit, ...(cont ? { _continue: cont } : {}) };
    let list: { metadata?: { resourceVersion?: string; _continue?: string }; items: unknown[] };
    switch (def.resource) {
      case 'namespaces':
        list = await core.listNamespace(p);
        break;
      case 'serviceaccounts':
        list = await core.listServiceAccountForAllNamespaces(p);
        break;
      case 'pods':
        list = await core.listPodForAllNamespaces(p);
        break;
      case 'nodes':
        list = await core.listNode(p);
        break;
      case 'networkpolicies':
        list = await net.listNetworkPolicyForAllNamespaces(p);
        break;
    }
    return list;
  };
}

export function describeWatchError(err: unknown): string {
  const code = (err as { statusCode?: number; code?: number } | undefined)?.statusCode;
  return code !== undefined ? `HTTP ${code}: ${describeError(err)}` : describeError(err);
}
