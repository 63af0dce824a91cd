/**
 * BgpDriver: the agent's dataplane driver for `--routing bgp`. Each apply renders bird.conf from
 * the mirror and hands it to the BirdWriter (no-op when unchanged); a timer publishes the BGP
 * sessions as CalicoNodeStatus.
 *
 * Why BIRD is not stopped in `stop()`: an agent restart must not flap every BGP session and
 * withdraw the node's routes cluster-wide. The next agent finds BIRD through its socket and
 * reloads it only if the config changed. Stopping the node (lab down) stops BIRD explicitly.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { lookupKind } from '../api/index.js';
import type { KindInfo } from '../api/index.js';
import type { Resource } from '../api/index.js';
import { describeError, isTesseraError } from '../lib/errors.js';
import { systemClock, type Clock } from '../lib/clock.js';
import { birdInputFromMirror, secretRefs, type BgpMirror } from './inputs.js';
import type { BirdConfig } from './model.js';
import { renderBirdConfig } from './render.js';
import { calicoNodeStatusFrom, parseBirdProtocols, parseBirdStatus, type PeerStatus } from './status.js';
import { BirdWriter } from './writer.js';

/** What the driver needs from the datastore to publish CalicoNodeStatus (ResourceStore fits). */
export interface StatusStore {
  get(info: KindInfo, name: string): Promise<Resource | undefined>;
  create(r: Resource): Promise<Resource>;
  update(r: Resource): Promise<Resource>;
}

export interface BgpDriverOptions {
  nodeName: string;
  stateDir: string;
  logger: Logger;
  /** When set, BGP sessions are published as CalicoNodeStatus every `statusIntervalMs`. */
  store?: StatusStore;
  statusIntervalMs?: number;
  clock?: Clock;
  /** Only for tests/lab: run bird/birdc in this netns (the agent itself runs in its node's). */
  netns?: string;
}

export class BgpDriver {
  readonly name = 'bgp';
  /** ClusterInformation's clusterType lists `bgp` once an agent runs BGP (as calico-node's). */
  readonly clusterType = 'bgp';
  readonly writer: BirdWriter;
  private lastRendered: BirdConfig | undefined;
  private lastProblems = '';
  private timer: NodeJS.Timeout | undefined;
  private lastStatus = '';

  constructor(private readonly options: BgpDriverOptions) {
    this.writer = new BirdWriter({ stateDir: options.stateDir, ...(options.netns ? { netns: options.netns } : {}) });
  }

  /** The last rendered config (peers, problems): for status and tests. */
  get config(): BirdConfig | undefined {
    return this.lastRendered;
  }

  onChange(): void {
    // Stateless: every apply re-renders from the whole mirror and the writer skips equal text.
  }

  async apply(mirror: BgpMirror, _full: boolean): Promise<void> {
    const secrets = await this.readSecrets(mirror);
    const cfg = renderBirdConfig(birdInputFromMirror(mirror, this.options.nodeName, secrets));
    this.lastRendered = cfg;
    const problems = cfg.problems.join('\n');
    if (problems !== this.lastProblems) {
      this.lastProblems = problems;
      if (cfg.problems.length) this.options.logger.warn({ problems: cfg.problems }, 'BGP config inputs skipped');
    }
    const r = await this.writer.write(cfg.text);
    if (r.changed || r.started) {
      this.options.logger.info({ ...r, peers: cfg.peers.length }, r.started ? 'BIRD started' : 'BIRD reconfigured');
    }
    this.ensureStatusTimer();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** BIRD's view of the sessions right now (empty when BIRD is not answering). */
  async peers(): Promise<PeerStatus[]> {
    const text = await this.writer.birdc('show', 'protocols', 'all');
    return text ? parseBirdProtocols(text) : [];
  }

  /** Publishes one CalicoNodeStatus for this node (named after it), only when something changed. */
  async publishStatus(): Promise<void> {
    const store = this.options.store;
    if (!store) return;
    const info = lookupKind('CalicoNodeStatus');
    if (!info) return;
    const [protocols, status] = await Promise.all([
      this.writer.birdc('show', 'protocols', 'all'),
      this.writer.birdc('show', 'status'),
    ]);
    const peers = protocols ? parseBirdProtocols(protocols) : [];
    const st = calicoNodeStatusFrom(
      peers,
      status ? parseBirdStatus(status) : undefined,
      (this.options.clock ?? systemClock).nowIso(),
    );
    const { lastUpdated: _t, ...comparable } = st;
    const key = JSON.stringify(comparable);
    if (key === this.lastStatus) return;
    const name = this.options.nodeName;
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = await store.get(info, name);
      const spec = {
        node: name,
        classes: ['Agent', 'BGP'],
        updatePeriodSeconds: Math.round((this.options.statusIntervalMs ?? 5000) / 1000),
        ...(cur?.spec ?? {}),
      };
      const next: Resource = {
        apiVersion: info.apiVersion,
        kind: 'CalicoNodeStatus',
        metadata: cur?.metadata ?? { name },
        spec,
        status: st,
      };
      try {
        if (cur) await store.update(next);
        else await store.create(next);
        this.lastStatus = key;
        return;
      } catch (e) {
        if (!isTesseraError(e, 'conflict') && !isTesseraError(e, 'already-exists')) throw e;
      }
    }
  }

  private ensureStatusTimer(): void {
    if (this.timer || !this.options.store) return;
    const tick = () =>
      void this.publishStatus().catch((e: unknown) =>
        this.options.logger.warn({ err: describeError(e) }, 'cannot publish CalicoNodeStatus'),
      );
    this.timer = setInterval(tick, this.options.statusIntervalMs ?? 5000);
    this.timer.unref();
    tick();
  }

  /** Reads `<stateDir>/secrets/<name>/<key>` for each referenced secret (trailing newline dropped). */
  private async readSecrets(mirror: BgpMirror): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const ref of secretRefs(mirror)) {
      const text = await readFile(join(this.options.stateDir, 'secrets', ref), 'utf8').catch(() => undefined);
      if (text !== undefined) out[ref] = text.replace(/\r?\n$/, '');
    }
    return out;
  }
}

export function createBgpDriver(options: BgpDriverOptions): BgpDriver {
  return new BgpDriver(options);
}
