/** An in-memory ControllerInformer (tests and benchmarks): set/remove objects, events fire as an informer's would. */
import type { ControllerInformer, SlimObject } from './informer.js';
import type { KubeResourceDef } from './kube-api.js';

type Cb = (o: SlimObject) => void;

export class FakeInformer implements ControllerInformer {
  private readonly objects = new Map<string, SlimObject>();
  private readonly cbs: Record<'add' | 'update' | 'delete', Cb[]> = { add: [], update: [], delete: [] };
  private syncedFlag = false;
  private waiters: (() => void)[] = [];

  constructor(readonly resource: KubeResourceDef) {}

  private k = (name: string, ns?: string) => `${ns ?? ''}/${name}`;

  set(o: SlimObject): void {
    const key = this.k(o.metadata.name, o.metadata.namespace);
    const had = this.objects.has(key);
    this.objects.set(key, o);
    for (const cb of this.cbs[had ? 'update' : 'add']) cb(o);
  }

  remove(name: string, namespace?: string): void {
    const key = this.k(name, namespace);
    const o = this.objects.get(key);
    if (!o) return;
    this.objects.delete(key);
    for (const cb of this.cbs.delete) cb(o);
  }

  markSynced(): void {
    this.syncedFlag = true;
    for (const w of this.waiters.splice(0)) w();
  }

  get synced(): boolean {
    return this.syncedFlag;
  }

  waitSynced(): Promise<void> {
    return this.syncedFlag ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }

  on(verb: string, cb: (arg: never) => void): void {
    if (verb === 'change') for (const v of ['add', 'update', 'delete'] as const) this.cbs[v].push(cb as Cb);
    else if (verb in this.cbs) this.cbs[verb as 'add'].push(cb as Cb);
  }

  off(verb: string, cb: (arg: never) => void): void {
    for (const v of ['add', 'update', 'delete'] as const) {
      if (verb !== v && verb !== 'change') continue;
      const i = this.cbs[v].indexOf(cb as Cb);
      if (i >= 0) this.cbs[v].splice(i, 1);
    }
  }

  async start(): Promise<void> {
    this.markSynced();
  }

  async stop(): Promise<void> {}

  get(name: string, namespace?: string): SlimObject | undefined {
    return this.objects.get(this.k(name, namespace));
  }

  list(): readonly SlimObject[] {
    return [...this.objects.values()];
  }
}
