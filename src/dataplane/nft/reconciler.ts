/**
 * NftReconciler: the only code that writes Tessera's nft table. One nft transaction per apply
 * (through NftSession: a long-lived libnftables helper, or `nft -f -` without it):
 * a full table rewrite on the first apply and after drift or a failed apply, otherwise only the diff
 * from the last state the kernel accepted. `checkDrift()` lists the table and repairs any difference.
 */
import { describeError, TesseraError } from '../../lib/errors.js';
import { diffNft, fullNftScript, type NftDiffStats } from './diff.js';
import { RuleTextCache } from './text.js';
import { FAMILY, TABLE, type NftState } from './model.js';
import { detectDrift, parseNftJson } from './parse.js';
import { NftSession } from './session.js';

export interface NftReconcilerOptions {
  /** Network namespace to program; undefined = the current one. */
  netns?: string;
  /** The agent's shared nftables session; by default the reconciler opens (and closes) its own. */
  session?: NftSession;
  /** Called with each script applied (metrics, debugging). */
  onApply?: (info: NftApplyResult) => void;
}

export interface NftApplyResult {
  mode: 'full' | 'diff' | 'noop';
  script: string;
  stats?: NftDiffStats;
  durationMs: number;
}

export class NftReconciler {
  private applied: NftState | undefined;
  /** Rule texts of the states this reconciler compares, for as long as it lives. */
  private readonly ruleTexts = new RuleTextCache();
  private readonly session: NftSession;
  private readonly ownSession: boolean;

  constructor(private readonly options: NftReconcilerOptions = {}) {
    this.ownSession = !options.session;
    this.session = options.session ?? new NftSession(options.netns ? { netns: options.netns } : {});
  }

  private get exec(): NftSession['exec'] {
    return this.session.exec;
  }

  /** Set when the nft helper kept dying and transactions go through the nft command instead. */
  get fallbackReason(): string | undefined {
    return this.session.fallbackReason;
  }

  /** Stops the nft helper process of a session this reconciler opened (the next apply starts a new one). */
  close(): void {
    if (this.ownSession) this.session.close();
  }

  /** The last state the kernel accepted (undefined before the first apply or after a failure). */
  get current(): NftState | undefined {
    return this.applied;
  }

  /** Forces the next apply to rewrite the whole table. */
  invalidate(): void {
    this.applied = undefined;
  }

  async apply(desired: NftState, signal?: AbortSignal): Promise<NftApplyResult> {
    const started = performance.now();
    let mode: NftApplyResult['mode'];
    let script: string;
    let stats: NftDiffStats | undefined;
    if (this.applied === undefined) {
      mode = 'full';
      script = fullNftScript(desired, this.ruleTexts);
    } else {
      const d = diffNft(this.applied, desired, this.ruleTexts);
      if (d.empty) return { mode: 'noop', script: '', durationMs: 0 };
      mode = 'diff';
      script = d.script;
      stats = d.stats;
    }
    try {
      await this.exec(script, signal ? { signal } : {});
    } catch (e) {
      // Unknown kernel state now (the transaction is atomic, but a diff assumed `applied` was true).
      this.applied = undefined;
      throw new TesseraError(
        'exec-failed',
        `cannot apply nft ${mode} update to table ${FAMILY} ${TABLE}: ${describeError(e)}`,
        {
          cause: e,
          details: { script },
        },
      );
    }
    this.applied = desired;
    const result: NftApplyResult = {
      mode,
      script,
      ...(stats ? { stats } : {}),
      durationMs: performance.now() - started,
    };
    this.options.onApply?.(result);
    return result;
  }

  /** Differences between the kernel's table and the last applied state (empty = none). */
  async drift(signal?: AbortSignal): Promise<string[]> {
    if (!this.applied) return ['nothing applied yet'];
    const listed = await this.exec(`list table ${FAMILY} ${TABLE}`, {
      json: true,
      ...(signal ? { signal } : {}),
    }).catch((e: unknown) => {
      if (e instanceof TesseraError && e.code === 'exec-failed') return undefined; // table gone
      throw e;
    });
    if (!listed) return [`table ${FAMILY} ${TABLE} missing`];
    return detectDrift(this.applied, parseNftJson(listed));
  }

  /** Periodic resync: repairs drift with a full rewrite. Returns the differences found. */
  async checkDrift(signal?: AbortSignal): Promise<string[]> {
    const desired = this.applied;
    const diffs = await this.drift(signal);
    if (diffs.length && desired) {
      this.applied = undefined;
      await this.apply(desired, signal);
    }
    return diffs;
  }

  /** Removes the table (agent uninstall / tests). Idempotent. */
  async remove(signal?: AbortSignal): Promise<void> {
    await this.exec(`add table ${FAMILY} ${TABLE}\ndelete table ${FAMILY} ${TABLE}\n`, signal ? { signal } : {});
    this.applied = undefined;
  }
}
