/**
 * Feeds the policy calculator from the datastore mirror and programs `inet tessera` through the
 * NftReconciler: one nft transaction per cycle (through the long-lived libnftables helper) with only the changes; a full rewrite on the
 * first sync and whenever the periodic resync finds drift.
 *
 * A policy the calculator cannot accept (it slipped past apply-time validation, or was written
 * by something else) is dropped from the calculation and reported; it never stops the agent.
 */
import type { Logger } from 'pino';
import { describeError, isTesseraError } from '../lib/errors.js';
import { PolicyCalculator, policyUpdateFromResource, type PolicyUpdate } from '../policy/index.js';
import { NftReconciler, NftRenderCache, nextNftState, type NftSession } from '../dataplane/nft/index.js';
import type { DataplaneDriver } from './driver.js';
import type { DatastoreMirror, MirrorChange, ResourceView } from './mirror.js';
import type { Resource, WorkloadView } from '../api/index.js';
import { kindFor } from '../api/index.js';
import { resourceKey } from '../datastore/index.js';
import { hostConfigFrom, readHostInterfaces } from './host-inputs.js';

const POD_KIND = kindFor('v1', 'Pod')!;

const workloadOf = (v: ResourceView | undefined): WorkloadView | undefined =>
  v?.kind === 'WorkloadEndpoint' ? v.workload : undefined;
/** The Pod a Kubernetes workload's labels come from. */
const podNameOf = (w: WorkloadView | undefined): string | undefined => (w?.orchestrator === 'k8s' ? w.pod : undefined);

export interface PolicyDriverOptions {
  nodeName: string;
  logger: Logger;
  /** Network namespace to program (tests); the agent runs inside its node's namespace. */
  netns?: string;
  /** The agent's shared nftables session (AgentOptions.nft); by default the driver opens its own. */
  nft?: NftSession;
  onProgrammed?: (info: { mode: string; durationMs: number }) => void;
}

export class PolicyDriver implements DataplaneDriver {
  readonly name = 'policy';
  readonly calculator: PolicyCalculator;
  private readonly reconciler: NftReconciler;
  /** Rendered chains, maps and names kept between cycles, as long as the table uses them. */
  private readonly renderCache = new NftRenderCache();
  private dirty = true;
  private interfacesStale = true;
  private lastInterfaces = '';
  /** Items rejected by the calculator, by key, with the reason (shown in status). */
  readonly rejected = new Map<string, string>();
  /** `ns/pod` -> keys of that pod's workload endpoints. */
  private readonly wepsByPod = new Map<string, Set<string>>();
  private programmedInterfaces = new Set<string>();
  private waiters: { iface: string; resolve: () => void }[] = [];

  constructor(private readonly options: PolicyDriverOptions) {
    this.calculator = new PolicyCalculator({ nodeName: options.nodeName });
    this.reconciler = new NftReconciler({
      ...(options.netns ? { netns: options.netns } : {}),
      ...(options.nft ? { session: options.nft } : {}),
    });
  }

  onChange(change: MirrorChange, mirror: DatastoreMirror): void {
    if (change.type !== 'resource') return;
    if (change.kind === 'FelixConfiguration') {
      this.feedUpdate('FelixConfiguration', {
        kind: 'HostConfig',
        key: 'host',
        value: hostConfigFrom(mirror, this.options.nodeName),
      });
      return;
    }
    if (change.kind === 'HostEndpoint') this.interfacesStale = true;
    if (change.kind === 'Pod' && change.group === 'core') {
      // A Kubernetes workload's labels are its Pod's: a `tessera label pod` must reach policy
      // without a new CNI ADD, so re-derive that pod's endpoints.
      const pod = change.resource ?? change.previous;
      if (!pod) return;
      const weps = mirror.of('WorkloadEndpoint');
      for (const key of this.wepsByPod.get(`${pod.metadata.namespace}/${pod.metadata.name}`) ?? []) {
        const wep = weps.get(key);
        if (wep) this.feed(key, this.withPodLabels(wep, change.resource), false, mirror.workloads.get(key));
      }
      return;
    }
    if (change.kind === 'WorkloadEndpoint') {
      const old = podNameOf(workloadOf(change.previousView));
      if (old) this.wepsByPod.get(`${change.previous?.metadata.namespace}/${old}`)?.delete(change.key);
      const view = workloadOf(change.view);
      if (change.resource && view) {
        const name = podNameOf(view);
        let pod: Resource | undefined;
        if (name) {
          const k = `${change.resource.metadata.namespace}/${name}`;
          let set = this.wepsByPod.get(k);
          if (!set) this.wepsByPod.set(k, (set = new Set()));
          set.add(change.key);
          pod = mirror.of('Pod', 'core').get(resourceKey(POD_KIND, name, change.resource.metadata.namespace));
        }
        this.feed(change.key, this.withPodLabels(change.resource, pod), false, view);
        return;
      }
    }
    if (change.resource) this.feed(change.key, change.resource, false);
    else if (change.previous) this.feed(change.key, change.previous, true);
  }

  /** The endpoint with its Pod's current labels plus the projectcalico.org/* labels the CNI set. */
  private withPodLabels(wep: Resource, pod: Resource | undefined): Resource {
    if (!pod) return wep;
    const own = Object.fromEntries(
      Object.entries(wep.metadata.labels ?? {}).filter(([k]) => k.startsWith('projectcalico.org/')),
    );
    return { ...wep, metadata: { ...wep.metadata, labels: { ...(pod.metadata.labels ?? {}), ...own } } };
  }

  /** `workload`: a WorkloadEndpoint's view, already decoded by the mirror. */
  private feed(key: string, resource: Resource, deleted: boolean, workload?: WorkloadView): void {
    const update = policyUpdateFromResource(resource, deleted, workload);
    if (update) this.feedUpdate(key, update);
  }

  private feedUpdate(key: string, update: PolicyUpdate): void {
    const change = { key };
    this.dirty = true;
    try {
      this.calculator.apply(update);
      this.rejected.delete(change.key);
    } catch (e) {
      if (isTesseraError(e, 'bug')) throw e;
      this.rejected.set(change.key, describeError(e));
      this.options.logger.error(
        { key: change.key, err: describeError(e) },
        'skipping resource the policy engine rejects',
      );
      const removal: PolicyUpdate = { ...update, value: null } as PolicyUpdate;
      try {
        this.calculator.apply(removal);
      } catch {
        // already absent
      }
    }
  }

  async apply(_mirror: DatastoreMirror, full: boolean): Promise<void> {
    if (full && this.reconciler.current) {
      const drift = await this.reconciler.checkDrift();
      if (drift.length)
        this.options.logger.warn({ drift: drift.slice(0, 10), count: drift.length }, 'nft drift repaired');
    }
    // HostEndpoints given by expectedIPs alone police the interface holding the address: re-read the
    // interfaces when host endpoints change and on every full cycle (addresses move), only if needed.
    if ((full || this.interfacesStale) && this.calculator.needsHostInterfaces()) {
      this.interfacesStale = false;
      const interfaces = await readHostInterfaces(this.options.netns);
      if (JSON.stringify(interfaces) !== this.lastInterfaces) {
        this.lastInterfaces = JSON.stringify(interfaces);
        this.feedUpdate('host-interfaces', { kind: 'HostInterfaces', key: 'host', value: interfaces });
      }
    }
    if (!this.dirty && this.reconciler.current) return;
    this.dirty = false;
    // A pod added or relabelled, or remote label changes: patch the programmed state; else render all.
    const next = nextNftState(this.calculator, this.reconciler.current, full, this.renderCache);
    const result = await this.reconciler.apply(next.state);
    if (result.mode !== 'noop') this.options.onProgrammed?.({ mode: result.mode, durationMs: result.durationMs });
    const ifaces = next.endpoints.map((e) => e.interfaceName).filter((i): i is string => !!i);
    if (next.mode === 'full') this.programmedInterfaces = new Set(ifaces);
    else for (const i of ifaces) this.programmedInterfaces.add(i);
    this.waiters = this.waiters.filter((w) => {
      if (!this.programmedInterfaces.has(w.iface)) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves once the endpoint on `iface` has its policy programmed (CNI fast path waits on it). */
  whenProgrammed(iface: string, signal?: AbortSignal): Promise<void> {
    if (this.programmedInterfaces.has(iface)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = { iface, resolve };
      this.waiters.push(waiter);
      signal?.addEventListener(
        'abort',
        () => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  /** Stops the nft helper; the table stays programmed (a restarted agent takes it over). */
  async stop(): Promise<void> {
    this.reconciler.close();
  }

  problems(): string[] {
    const out = [...this.rejected].map(([k, why]) => `${k}: ${why}`);
    const fallback = this.reconciler.fallbackReason;
    if (fallback) out.push(`nftables: ${fallback}; using the nft command per change (slower)`);
    return out;
  }
}
