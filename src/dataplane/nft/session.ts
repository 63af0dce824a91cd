/**
 * NftSession: how the agent talks to nftables. One long-lived `bin/tessera-nft` (a libnftables
 * server, helper/tessera-nft.c) per reconciler instead of an `nft` process per transaction:
 *
 * - `nft -f` pays its start-up and a cold fetch of the whole table on every call (~20-25 ms with
 *   1,000 policies), and spawning from a large Node process forks its address space each time;
 *   the helper keeps libnftables' cache warm, so a one-pod change costs ~3 ms.
 * - libnftables checks the ruleset generation before each command, so changes made by anyone
 *   else (drift, a hand edit) are re-read, never served from a stale cache.
 * - Each script is still one atomic transaction (nft_run_cmd_from_buffer), exactly as `nft -f`.
 *
 * Requests are answered in order (see the framing in the C file). If the helper dies, pending
 * requests fail with `exec-failed` and the next one starts a new helper. If the helper is not
 * built (no libnftables-dev), or dies MAX_DEATHS times in a row without answering anything (e.g. a
 * binary built against a library this machine lacks), every request runs the `nft` command instead.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { TesseraError } from '../../lib/errors.js';
import { run, start } from '../../lib/exec.js';
import { binPath } from '../../lib/paths.js';

export interface NftExecOptions {
  /** Output as `nft -j` (JSON). */
  json?: boolean;
  signal?: AbortSignal;
}

/** Runs one nft script as one transaction; resolves with nft's output, rejects with `exec-failed`. */
export type NftExec = (script: string, options?: NftExecOptions) => Promise<string>;

export interface NftSessionOptions {
  /** Network namespace to program; undefined = the current one. */
  netns?: string;
  /** The helper executable; default bin/tessera-nft (env TESSERA_NFT_HELPER overrides). */
  helperPath?: string;
  /** A request taking longer than this kills the helper (default 60 s). */
  timeoutMs?: number;
}

/** Consecutive helper deaths without a single reply after which the session uses the nft command. */
const MAX_DEATHS = 3;

interface Pending {
  script: string;
  resolve: (out: string) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout;
}

const failed = (script: string, stderr: string): TesseraError =>
  new TesseraError('exec-failed', `nft rejected the transaction: ${stderr.trim()}`, { details: { stderr, script } });

export class NftSession {
  private child: ChildProcess | undefined;
  private readonly queue: Pending[] = [];
  private buf: Buffer = Buffer.alloc(0);
  private helper: string | undefined;
  private readonly timeoutMs: number;
  private deaths = 0;
  private why: string | undefined;

  constructor(private readonly options: NftSessionOptions = {}) {
    const path = options.helperPath ?? process.env['TESSERA_NFT_HELPER'] ?? binPath('tessera-nft');
    this.helper = existsSync(path) ? path : undefined;
    this.timeoutMs = options.timeoutMs ?? 60_000;
  }

  /** Why the session gave up on the helper and runs the nft command (undefined: it did not). */
  get fallbackReason(): string | undefined {
    return this.why;
  }

  /** True when requests go through the long-lived helper (false: one `nft` process each). */
  get persistent(): boolean {
    return this.helper !== undefined;
  }

  /** The running helper's pid (undefined when none runs). */
  get helperPid(): number | undefined {
    return this.child?.pid;
  }

  readonly exec: NftExec = (script, options = {}) => {
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    if (!this.helper) return this.execOnce(script, options);
    return new Promise<string>((resolve, reject) => {
      const child = this.ensure(this.helper!);
      const timer = setTimeout(() => this.fail(child, `did not answer within ${this.timeoutMs} ms`), this.timeoutMs);
      this.queue.push({ script, resolve, reject, timer });
      this.setRef(true);
      const body = Buffer.from(script, 'utf8');
      child.stdin!.write(`${options.json ? 'j' : 't'} ${body.length}\n`);
      child.stdin!.write(body);
    });
  };

  /** Stops the helper; pending requests are rejected. The session restarts it on the next request. */
  close(): void {
    if (this.child) this.fail(this.child, 'was closed', true);
  }

  private async execOnce(script: string, options: NftExecOptions): Promise<string> {
    // `nft -j -f -` opens /dev/stdin, which fails on Node's socket stdio: JSON requests (listings,
    // one command) go as arguments instead.
    if (options.json && script.trim().includes('\n'))
      throw new TesseraError('bug', 'a JSON nft request must be a single command');
    const argv = options.json ? ['nft', '-j', ...script.trim().split(/\s+/)] : ['nft', '-f', '-'];
    const r = await run(argv, {
      ...(options.json ? {} : { input: script }),
      check: false,
      ...(this.options.netns ? { netns: this.options.netns } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (r.code !== 0) throw failed(script, r.stderr);
    return r.stdout;
  }

  private ensure(helper: string): ChildProcess {
    if (this.child) return this.child;
    const child = start([helper], { netns: this.options.netns, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
    child.stdout!.on('data', (d: Buffer) => this.onData(d));
    child.stdin!.on('error', () => undefined); // reported through 'exit'
    child.on('error', (e) => this.fail(child, `could not start (${e.message})`));
    child.on('exit', (code, sig) => this.fail(child, `exited (${sig ?? code})${stderr ? `: ${stderr.trim()}` : ''}`));
    this.child = child;
    this.buf = Buffer.alloc(0);
    this.setRef(false);
    return child;
  }

  /** Keeps the process alive only while a request is outstanding (an idle helper never does). */
  private setRef(on: boolean): void {
    const c = this.child;
    if (!c) return;
    for (const s of [c.stdin, c.stdout, c.stderr] as unknown as (Socket | null)[]) {
      if (on) s?.ref?.();
      else s?.unref?.();
    }
    if (on) c.ref();
    else c.unref();
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      const nl = this.buf.indexOf(10);
      if (nl < 0) return;
      const m = /^(\d+) (\d+) (\d+)$/.exec(this.buf.subarray(0, nl).toString('latin1'));
      if (!m) {
        if (this.child) this.fail(this.child, 'sent a malformed reply');
        return;
      }
      const outLen = Number(m[2]);
      const errLen = Number(m[3]);
      if (this.buf.length < nl + 1 + outLen + errLen) return;
      const out = this.buf.subarray(nl + 1, nl + 1 + outLen).toString('utf8');
      const err = this.buf.subarray(nl + 1 + outLen, nl + 1 + outLen + errLen).toString('utf8');
      this.buf = this.buf.subarray(nl + 1 + outLen + errLen);
      const job = this.queue.shift();
      if (!job) continue;
      clearTimeout(job.timer);
      this.deaths = 0;
      if (m[1] === '0') job.resolve(out);
      else job.reject(failed(job.script, err));
      if (!this.queue.length) this.setRef(false);
    }
  }

  private fail(child: ChildProcess, why: string, closed = false): void {
    if (child !== this.child) return;
    this.child = undefined;
    child.kill('SIGKILL');
    if (!closed && ++this.deaths >= MAX_DEATHS) {
      this.why = `the nft helper ${this.helper} ${why} ${this.deaths} times in a row`;
      this.helper = undefined;
    }
    for (const job of this.queue.splice(0)) {
      clearTimeout(job.timer);
      job.reject(new TesseraError('exec-failed', `the nft helper ${why}`, { details: { script: job.script } }));
    }
  }
}
