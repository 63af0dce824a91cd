/**
 * Wires the controllers the KubeControllersConfiguration turns on, runs them only while this
 * replica is the leader, and rebuilds them when `default` changes.
 */
import type { Logger } from 'pino';
import { resourceKey, type Backend } from '../datastore/index.js';
import { systemClock, type Clock } from '../lib/clock.js';
import { describeError } from '../lib/errors.js';
import { KCC_INFO, loadConfig, type ControllersConfig } from './config.js';
import type { Controller, ControllerContext } from './controller.js';
import type { ControllerInformer } from './informer.js';
import { IpamGarbageCollector } from './ipam-gc.js';
import type { KubeResourceName } from './kube-api.js';
import { LeaderElector } from './leader.js';
import type { EventRecorder } from './events.js';
import { ControllerMetrics, type HealthSource } from './metrics.js';
import { MirrorController } from './mirror.js';
import { NodeController } from './node.js';

export interface KubeControllersOptions {
  backend: Backend;
  informers: Record<KubeResourceName, ControllerInformer>;
  logger: Logger;
  identity: string;
  metrics?: ControllerMetrics;
  events?: EventRecorder;
  clock?: Clock;
  leaderTtlSeconds?: number;
  leaderRetryMs?: number;
  /** IPAM GC pass interval; default: the node reconcilerPeriod, at most a third of the grace period (>= 1 s). */
  gcIntervalMs?: number;
}

export function buildControllers(
  ctx: ControllerContext,
  informers: Record<KubeResourceName, ControllerInformer>,
  config: ControllersConfig,
  gcIntervalMs?: number,
): Controller[] {
  const out: Controller[] = [];
  if (config.namespace) out.push(new MirrorController('namespace', ctx, informers.namespaces, config.namespace));
  if (config.serviceAccount)
    out.push(new MirrorController('serviceaccount', ctx, informers.serviceaccounts, config.serviceAccount));
  if (config.workloadEndpoint)
    out.push(new MirrorController('workloadendpoint', ctx, informers.pods, config.workloadEndpoint));
  if (config.policy) out.push(new MirrorController('policy', ctx, informers.networkpolicies, config.policy));
  if (config.node) {
    out.push(new NodeController(ctx, informers.nodes, config.node));
    const interval =
      gcIntervalMs ?? Math.max(1000, Math.min(config.node.reconcilerPeriodMs, config.node.leakGracePeriodMs / 3));
    out.push(
      new IpamGarbageCollector(ctx, informers.pods, informers.nodes, {
        leakGracePeriodMs: config.node.leakGracePeriodMs,
        intervalMs: interval,
      }),
    );
  }
  return out;
}

export class KubeControllers implements HealthSource {
  readonly metrics: ControllerMetrics;
  readonly elector: LeaderElector;
  private readonly ctx: ControllerContext;
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  controllers: Controller[] = [];
  config: ControllersConfig | undefined;
  lastError: string | undefined;

  constructor(private readonly options: KubeControllersOptions) {
    this.metrics = options.metrics ?? new ControllerMetrics();
    this.ctx = {
      backend: options.backend,
      metrics: this.metrics,
      logger: options.logger,
      clock: options.clock ?? systemClock,
      ...(options.events ? { events: options.events } : {}),
    };
    this.elector = new LeaderElector(options.backend, {
      identity: options.identity,
      ...(options.leaderTtlSeconds !== undefined ? { ttlSeconds: options.leaderTtlSeconds } : {}),
      ...(options.leaderRetryMs !== undefined ? { retryMs: options.leaderRetryMs } : {}),
    });
  }

  start(): void {
    this.running = this.elector.run((signal) => this.lead(signal), this.abort.signal);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  get isLeader(): boolean {
    return this.elector.isLeader;
  }

  /** Resolves when every running controller has synced and has nothing queued (tests). */
  async idle(): Promise<void> {
    await Promise.all(this.controllers.map((c) => c.idle()));
  }

  controller<T extends Controller>(name: string): T | undefined {
    return this.controllers.find((c) => c.name === name) as T | undefined;
  }

  private async lead(signal: AbortSignal): Promise<void> {
    const { logger } = this.ctx;
    this.metrics.isLeader.set(1);
    logger.info({ identity: this.options.identity }, 'became leader');
    let term: AbortController | undefined;
    const onAbort = () => term?.abort();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      while (!signal.aborted) {
        let config: ControllersConfig;
        let revision: number;
        try {
          revision = await this.options.backend.revision();
          config = (await loadConfig(this.options.backend)).config;
          this.lastError = undefined;
        } catch (err) {
          this.lastError = describeError(err);
          logger.error({ err: this.lastError }, 'cannot load KubeControllersConfiguration "default"; retrying');
          await new Promise((r) => setTimeout(r, 2000));
          continue;
        }
        // The config watch also ends on an etcd hiccup: restart the controllers (a full resync)
        // only when `default` really changed.
        if (term === undefined || JSON.stringify(config) !== JSON.stringify(this.config)) {
          if (term !== undefined) {
            logger.info('KubeControllersConfiguration changed; restarting controllers');
            term.abort();
            for (const c of this.controllers) {
              c.stop();
              this.metrics.synced.set({ controller: c.name }, 0);
            }
          }
          this.config = config;
          const t = (term = new AbortController());
          this.controllers = buildControllers(this.ctx, this.options.informers, config, this.options.gcIntervalMs);
          for (const c of this.controllers) {
            c.start(t.signal).catch((err: unknown) => {
              if (!t.signal.aborted)
                logger.error({ controller: c.name, err: describeError(err) }, 'controller failed to start');
            });
          }
        }
        await this.configChanged(revision + 1, term.signal);
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      term?.abort();
      this.metrics.isLeader.set(0);
      for (const c of this.controllers) c.stop();
      this.controllers = [];
    }
  }

  /** Resolves when `default` changes (or the signal aborts). */
  private async configChanged(from: number, signal: AbortSignal): Promise<void> {
    const key = resourceKey(KCC_INFO, 'default');
    while (!signal.aborted) {
      try {
        for await (const events of this.options.backend.watch(key, { fromRevision: from, signal })) {
          if (events.some((e) => (e.type === 'put' ? e.kv.key : e.key) === key)) return;
        }
      } catch {
        if (signal.aborted) return;
        // compacted / unavailable: the caller re-reads the config (after a pause, so that an
        // unreachable etcd is not spun on) and restarts the controllers only if it changed
        await new Promise((r) => setTimeout(r, 500));
        return;
      }
    }
  }

  live(): boolean {
    return true;
  }

  ready(): boolean {
    if (!this.isLeader) return true;
    return this.config !== undefined && this.controllers.every((c) => c.synced);
  }

  status(): unknown {
    return {
      identity: this.options.identity,
      leader: this.isLeader,
      controllers: this.controllers.map((c) => ({ name: c.name, synced: c.synced, queueDepth: c.queueDepth })),
      informers: Object.values(this.options.informers).map((i) => ({
        resource: i.resource.resource,
        synced: i.synced,
      })),
      ...(this.lastError ? { error: this.lastError } : {}),
    };
  }
}
