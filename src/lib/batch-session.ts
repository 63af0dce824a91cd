/**
 * BatchSession: one long-lived `ip … -force -batch -` (or `bridge … -force -batch -`) that runs
 * jobs of lines, reads and writes alike, and hands each job back its own output.
 *
 * Why: a long-lived Node process must not spawn a tool per command. Every spawn forks the whole
 * address space (the event loop blocks 3 ms at 50 MB RSS, 30-45 ms at 250-350 MB, measured here)
 * and every `ip` start costs 4-8 ms more (its shared libraries).
 *
 * Framing. The tool's stderr is merged into its stdout (`2>&1`), so everything it prints arrives
 * on one pipe in the order it was printed: iproute2 flushes after each command's JSON and writes
 * errors unbuffered. Each job is its lines followed by a marker line `tsr-end-<n>`, an unknown
 * object, which the tool answers with `Object "tsr-end-<n>" is unknown …` and then
 * `Command failed -:<line>`. Everything before a job's marker answer is that job's output; the
 * marker's own "Command failed" line, the one right after it, is dropped. A job failed exactly when
 * one of its lines printed "Command failed". `-force` keeps the tool alive past a failed line; the
 * rest of that job still runs.
 *
 * Stale names. iproute2 caches interface name -> index for the life of the process and never
 * notices a device deleted behind its back: once a name it has used is re-created (a pod with the
 * same name, a VTEP rebuilt), every command naming it fails with "No such device", some by exiting
 * the tool. So a job that creates (`link add`) a name its tool has already named runs in a new
 * tool, the next job after a failed one too, and callers that know a name was re-created elsewhere
 * call `renew()`. A tool being replaced finishes the jobs it already has, then exits.
 *
 * If the tool dies, or a job takes longer than `timeoutMs` (the tool is then killed), its pending
 * jobs reject with `exec-failed` and the next job starts a new tool. The child holds the event loop
 * open only while a job is pending.
 */
import type { ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { TesseraError } from './errors.js';
import { start } from './exec.js';
import { lineSplitter } from './lines.js';

export interface BatchSessionOptions {
  /** Run the tool in this network namespace (via `ip netns exec`). */
  netns?: string | undefined;
  /** A job still unanswered after this long kills the tool (default 30 s). */
  timeoutMs?: number | undefined;
}

export interface BatchResult {
  /** False when any line of the job failed. */
  ok: boolean;
  /** What the job printed (stdout and stderr in order), without the "Command failed" lines. */
  output: string;
}

interface Job {
  marker: string;
  lines: readonly string[];
  out: string[];
  failed: boolean;
  resolve: (r: BatchResult) => void;
  reject: (e: unknown) => void;
}

const MARKER_PREFIX = 'tsr-end-';
/** Interface names a line refers to (`dev X`, `link add|set|del X`). */
const LINK_NAMES = /(?:\bdev|^link (?:add|set|del)) (\S+)/g;
/** The interface a `link add` line creates ('' for other lines). */
const createdLink = (line: string): string => /^link add (\S+)/.exec(line)?.[1] ?? '';

/** One running tool and the jobs it has been handed, answered in order. */
class Tool {
  readonly queue: Job[] = [];
  /** Interface names its jobs have named (and it may have cached). */
  readonly named = new Set<string>();
  /** No new jobs: ends its input once the queue is empty. */
  retired = false;
  private skipNext = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly child: ChildProcess,
    private readonly name: string,
    private readonly timeoutMs: number,
    private readonly onFailedJob: (tool: Tool) => void,
  ) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on(
      'data',
      lineSplitter((line) => this.onLine(line)),
    );
    child.stdin!.on('error', () => undefined);
    child.on('error', () => this.fail('could not start'));
    // 'close', not 'exit': the answers the tool printed before it ended are read first.
    child.on('close', (code, sig) => this.fail(`exited (${sig ?? code})`));
    this.hold(false);
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null && !this.child.killed;
  }

  send(job: Job): void {
    this.queue.push(job);
    if (this.queue.length === 1) this.hold(true);
    this.child.stdin!.write(`${job.lines.length > 0 ? `${job.lines.join('\n')}\n` : ''}${job.marker}\n`);
  }

  retire(): void {
    this.retired = true;
    if (this.queue.length === 0) this.child.stdin!.end();
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  private onLine(line: string): void {
    if (this.skipNext) {
      this.skipNext = false;
      if (line.startsWith('Command failed ')) return;
    }
    const head = this.queue[0];
    if (!head) return;
    if (line.startsWith(`Object "${head.marker}" is unknown`)) {
      this.queue.shift();
      this.skipNext = true;
      if (this.queue.length > 0) this.armTimer();
      else {
        this.hold(false);
        if (this.retired) this.child.stdin!.end();
      }
      if (head.failed) this.onFailedJob(this);
      head.resolve({ ok: !head.failed, output: head.out.join('\n') });
      return;
    }
    if (line.startsWith('Command failed ')) head.failed = true;
    else head.out.push(line);
  }

  /** Keeps the event loop (and the job timer) alive while jobs are pending, and only then. */
  private hold(on: boolean): void {
    for (const h of [
      this.child,
      this.child.stdout as unknown as Socket | null,
      this.child.stdin as unknown as Socket | null,
    ]) {
      if (on) h?.ref?.();
      else h?.unref?.();
    }
    if (on) this.armTimer();
    else {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** (Re)starts the timeout for the job at the head of the queue. */
  private armTimer(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.fail(`did not answer within ${this.timeoutMs} ms`);
      this.child.kill('SIGKILL');
    }, this.timeoutMs);
  }

  fail(why: string): void {
    this.retired = true;
    this.hold(false);
    for (const j of this.queue.splice(0)) {
      j.reject(
        new TesseraError('exec-failed', `cannot run ${this.name} batch: the ${this.name} process ${why}`, {
          details: { script: j.lines.join('\n') },
        }),
      );
    }
  }
}

export class BatchSession {
  private tool: Tool | undefined;
  private seq = 0;
  private closed = false;

  /** `argv` is the tool with its global options, e.g. `['ip', '-json', '-force', '-batch', '-']`. */
  constructor(
    private readonly argv: readonly string[],
    private readonly options: BatchSessionOptions = {},
  ) {
    if (!argv.includes('-force') || argv.at(-1) !== '-') {
      throw new TesseraError('bug', `a batch session needs "-force" and "-batch -": ${argv.join(' ')}`);
    }
  }

  /** Runs `lines` (blank ones are skipped); resolves whether or not they succeeded. */
  run(lines: readonly string[]): Promise<BatchResult> {
    if (this.closed)
      return Promise.reject(new TesseraError('exec-failed', `cannot run ${this.argv[0]} batch: the session is closed`));
    const body = lines.filter((l) => l.trim() !== '');
    for (const l of body) {
      if (l.includes('\n'))
        return Promise.reject(new TesseraError('bug', `a batch line cannot contain a newline: ${JSON.stringify(l)}`));
    }
    return new Promise<BatchResult>((resolve, reject) => {
      if (this.tool && body.some((l) => this.tool!.named.has(createdLink(l)))) this.renew();
      const tool = this.current();
      for (const l of body) for (const m of l.matchAll(LINK_NAMES)) tool.named.add(m[1]!);
      tool.send({ marker: `${MARKER_PREFIX}${++this.seq}`, lines: body, out: [], failed: false, resolve, reject });
    });
  }

  /** Like `run`, but rejects with `exec-failed` (carrying the tool's messages) when a line failed. */
  async must(lines: readonly string[]): Promise<string> {
    const r = await this.run(lines);
    if (!r.ok) {
      throw new TesseraError('exec-failed', `command "${this.argv.join(' ')}" failed: ${r.output.trim()}`, {
        details: { stderr: r.output, script: lines.join('\n') },
      });
    }
    return r.output;
  }

  /** The next job runs in a new tool (one whose interface-name cache is empty). */
  renew(): void {
    this.tool?.retire();
    this.tool = undefined;
  }

  /** Stops the tool; pending jobs reject. */
  close(): void {
    this.closed = true;
    const tool = this.tool;
    this.tool = undefined;
    tool?.fail('was closed');
    tool?.kill('SIGTERM');
  }

  private current(): Tool {
    const cur = this.tool;
    if (cur && cur.alive && !cur.retired) return cur;
    const name = this.argv[0] ?? 'tool';
    const child = start(['sh', '-c', 'exec "$@" 2>&1', 'sh', ...this.argv], {
      netns: this.options.netns,
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    const tool = new Tool(child, name, this.options.timeoutMs ?? 30_000, (t) => {
      if (t === this.tool) this.renew();
    });
    this.tool = tool;
    return tool;
  }
}
