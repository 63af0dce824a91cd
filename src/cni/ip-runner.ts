/**
 * How the CNI code runs `ip -batch` scripts.
 *
 * `directIpRunner` spawns `ip` per script: right for the one-shot TypeScript plugin, whose process
 * is small. A long-lived Node process (the CNI server) must not: every spawn forks its whole
 * address space (measured: the event loop blocks 3 ms at 50 MB RSS, 30-45 ms at 250 MB), and every
 * `ip` start costs 4-8 ms here (its shared libraries). `startIpHelper` therefore starts no process
 * per host-side script and none on an ADD's critical path:
 *
 * - Host side: one persistent `ip -force -batch -`, a BatchSession (src/lib/batch-session.ts: jobs
 *   delimited by end markers). `-force` keeps ip alive after a failed line; the rest of that job
 *   still runs (a caller treats a failed job as failed and unwinds what it owns).
 * - Pod side (`prepareNetns`): one persistent `bin/tessera-netns` (shim/tessera-netns.c) applies the
 *   script inside the pod's netns with setns + rtnetlink, so an ADD starts no process at all (every
 *   process start here costs milliseconds, tens of them under load). It runs only the line forms
 *   renderPodSetup writes; anything else, or no helper built, or a helper that keeps dying, falls
 *   back to the path below.
 * - Pod side without the helper: a small bash child starts `ip -n <netns> -batch <fifo>` when the
 *   ADD begins, so ip's start-up overlaps the datastore work; the script arrives later through a
 *   FIFO from a reused pool. We open the FIFO read-write (never blocks on Linux, and the data stays
 *   buffered until ip opens it), write the script plus the marker, and keep it open until bash
 *   reports ip's exit. Without -force ip stops at its first failing line, so the job succeeded
 *   exactly when ip's output names our marker. A FIFO is reused only after a clean report: a
 *   FIFO whose ip may still be alive (helper died) is dropped, never handed to another job.
 *
 * Only our own generated paths, numeric ids and validated netns names reach the shell; interface
 * names and addresses travel inside the scripts, which `ip` parses.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdir, open, readdir, unlink } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { TesseraError } from '../lib/errors.js';
import { BatchSession } from '../lib/batch-session.js';
import { lineSplitter } from '../lib/lines.js';
import { run, start } from '../lib/exec.js';
import { binPath } from '../lib/paths.js';
import { existsSync } from 'node:fs';

/** A pod-side `ip -batch` started ahead of its script. Exactly one of run/cancel ends it. */
export interface NetnsBatch {
  /** Runs `script` in the netns; stops at its first failing line and rejects with `exec-failed`. */
  run(script: string): Promise<void>;
  /** Ends the waiting `ip` without running anything; a no-op after run. */
  cancel(): Promise<void>;
}

export interface IpRunner {
  /** Runs `ip -batch` over `script` in this (host) netns; rejects with `exec-failed` carrying ip's output. */
  batch(script: string, signal?: AbortSignal): Promise<void>;
  /** Starts `ip -n <netnsName> -batch` now (where supported) so its start-up overlaps other work. */
  prepareNetns(netnsName: string): NetnsBatch;
  /** Stops the helpers, if any (pending scripts are rejected). */
  close(): void;
}

export const BATCH_DIR = '/run/tessera/cni';
/** Names `ip -n` accepts that are also safe inside a single-quoted shell word. */
export const SAFE_NETNS_NAME = /^[A-Za-z0-9_.:@+-]{1,200}$/;

const execFailed = (what: string, out: string, script: string): TesseraError =>
  new TesseraError('exec-failed', `command "${what}" failed: ${out.trim()}`, { details: { stderr: out, script } });

export const directIpRunner: IpRunner = {
  async batch(script, signal) {
    await run(['ip', '-batch', '-'], { input: script, ...(signal ? { signal } : {}) });
  },
  prepareNetns(netnsName) {
    return {
      async run(script) {
        await run(['ip', '-n', netnsName, '-batch', '-'], { input: script });
      },
      async cancel() {},
    };
  },
  close() {},
};

const unref = (child: ChildProcess): void => {
  // The helpers must not keep a finished process alive.
  child.unref();
  for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as Socket | null)?.unref?.();
};

/** Holds the event loop open while a reply is awaited (a helper is otherwise unref'd). */
const holdOpen = (child: ChildProcess | undefined, hold: boolean): void => {
  if (!child) return;
  if (hold) child.ref();
  else child.unref();
  const out = child.stdout as unknown as Socket | null;
  if (hold) out?.ref?.();
  else out?.unref?.();
};

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** FIFOs of helpers that died without closing (SIGKILL) would pile up in BATCH_DIR. */
async function sweepDeadFifos(): Promise<void> {
  const names = await readdir(BATCH_DIR).catch(() => [] as string[]);
  const dead = names.filter((n) => {
    const m = /^(\d+)-\d+\.fifo$/.exec(n);
    return m !== null && Number(m[1]) !== process.pid && !alive(Number(m[1]));
  });
  await Promise.all(dead.map((n) => unlink(`${BATCH_DIR}/${n}`).catch(() => undefined)));
}

/** A helper's reply to request `id`: its exit code and (one line of) output. */
interface Reply {
  code: number;
  out: string;
}

/**
 * Requests sent to a helper child that answers each with a line `ID CODE OUT`. The child is held
 * open (ref'd) while any request is pending, so a process cannot exit under a pending wiring.
 */
class PendingReplies {
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: unknown) => void }>();

  constructor(private readonly child: () => ChildProcess | undefined) {}

  /** Registers a request to `c`; `send(id)` writes it. Resolves with the helper's reply. */
  request(c: ChildProcess, send: (id: number) => void): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const id = ++this.seq;
      this.pending.set(id, { resolve, reject });
      holdOpen(c, true);
      send(id);
    });
  }

  /** Handles one line from the helper; true when it answered a pending request. */
  readonly onLine = (line: string): boolean => {
    const m = /^(\d+) (\d+) ?(.*)$/.exec(line);
    const p = m ? this.pending.get(Number(m[1])) : undefined;
    if (!m || !p) return false;
    this.pending.delete(Number(m[1]));
    if (this.pending.size === 0) holdOpen(this.child(), false);
    p.resolve({ code: Number(m[2]), out: m[3] ?? '' });
    return true;
  };

  /** Rejects every pending request (the helper died or was closed). */
  failAll(message: string): void {
    for (const p of this.pending.values()) p.reject(new TesseraError('exec-failed', message));
    this.pending.clear();
  }
}

/** The bash child that starts pod-side `ip` processes in the background and reports their exit. */
function podStarter(): { prepare(netnsName: string): NetnsBatch; close(): void } {
  let sh: ChildProcess | undefined;
  let seq = 0;
  let fifoSeq = 0;
  const freeFifos: string[] = [];
  let making: Promise<void> | undefined;
  const replies = new PendingReplies(() => sh);

  const failAll = (why: string): void => {
    replies.failAll(`cannot run ip batch: the ip helper ${why}`);
    sh = undefined;
  };
  const onLine = (line: string): void => void replies.onLine(line);
  const ensure = (): ChildProcess => {
    if (sh && sh.exitCode === null && !sh.killed) return sh;
    // bash, not dash: bash reaps its finished background jobs, dash leaves zombies.
    const child = start(['/bin/bash', '--norc', '--noprofile'], { stdio: ['pipe', 'pipe', 'ignore'] });
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', lineSplitter(onLine));
    child.stdin!.on('error', () => undefined);
    child.on('error', () => child === sh && failAll('could not start'));
    child.on('exit', (code) => child === sh && failAll(`exited (${code})`));
    unref(child);
    sh = child;
    return child;
  };
  const takeFifo = async (): Promise<string> => {
    while (freeFifos.length === 0) {
      making ??= (async () => {
        await mkdir(BATCH_DIR, { recursive: true });
        if (fifoSeq === 0) await sweepDeadFifos();
        const names = Array.from({ length: 16 }, () => `${BATCH_DIR}/${process.pid}-${++fifoSeq}.fifo`);
        await Promise.all(names.map((n) => unlink(n).catch(() => undefined)));
        await run(['mkfifo', '-m', '600', ...names]);
        freeFifos.push(...names);
      })().finally(() => (making = undefined));
      await making;
    }
    return freeFifos.pop()!;
  };

  const prepare = (netnsName: string): NetnsBatch => {
    if (!SAFE_NETNS_NAME.test(netnsName))
      throw new TesseraError('validation', `cannot use netns name "${netnsName}" with ip -n`);
    const id = ++seq;
    const marker = `tsr-end-${id}`;
    const started = (async () => {
      const fifo = await takeFifo();
      const c = ensure();
      const done = replies.request(c, (rid) =>
        c.stdin!.write(
          `{ o=$(ip -n '${netnsName}' -batch '${fifo}' 2>&1 </dev/null); r=$?; o=\${o//$'\\n'/ }; printf '%s %s %s\\n' ${rid} "$r" "\${o:0:3000}"; } &\n`,
        ),
      );
      done.catch(() => undefined); // awaited by finish
      return { fifo, done };
    })();
    started.catch(() => undefined); // awaited by finish
    let finished: Promise<void> | undefined;
    const finish = (script: string): Promise<void> =>
      (finished ??= (async () => {
        const { fifo, done } = await started;
        let reusable = false;
        const fh = await open(fifo, 'r+');
        try {
          await fh.write(`${script}${marker}\n`);
          const r = await done;
          const out = r.out
            .replace(/Object "tsr-end-\d+" is unknown, try "ip help"\.\s*Command failed [^ ]+/, '')
            .trim();
          reusable = true;
          if (!r.out.includes(`Object "${marker}" is unknown`))
            throw execFailed(`ip -n ${netnsName} -batch`, out || `exit ${r.code}`, script);
        } finally {
          await fh.close();
          if (reusable) freeFifos.push(fifo);
          else await unlink(fifo).catch(() => undefined);
        }
      })());
    return {
      run: (script) => finish(script),
      async cancel() {
        await finish('').catch(() => undefined);
      },
    };
  };
  return {
    prepare,
    close() {
      const child = sh;
      failAll('was closed');
      child?.kill('SIGTERM');
      for (const f of freeFifos.splice(0)) void unlink(f).catch(() => undefined);
    },
  };
}

/** Consecutive deaths of the netns helper without a reply after which the server stops using it. */
const NETNS_HELPER_MAX_DEATHS = 3;

/**
 * The persistent pod-side helper (see the framing in shim/tessera-netns.c). `prepare` costs nothing;
 * a script the helper does not understand (reply code 2) runs through `fallback` instead.
 */
function netnsHelper(
  path: string,
  fallback: (netnsName: string) => NetnsBatch,
): { prepare(netnsName: string): NetnsBatch; close(): void } {
  let child: ChildProcess | undefined;
  let deaths = 0;
  let usable = true;
  const replies = new PendingReplies(() => child);
  const failAll = (why: string): void => {
    replies.failAll(`cannot wire the pod: the netns helper ${why}`);
    child = undefined;
  };
  const onLine = (line: string): void => {
    if (replies.onLine(line)) deaths = 0;
  };
  const ensure = (): ChildProcess => {
    if (child && child.exitCode === null && !child.killed) return child;
    const c = start([path], { stdio: ['pipe', 'pipe', 'inherit'] });
    c.stdout!.setEncoding('utf8');
    c.stdout!.on('data', lineSplitter(onLine));
    c.stdin!.on('error', () => undefined);
    const died = (why: string): void => {
      if (c !== child) return;
      if (++deaths >= NETNS_HELPER_MAX_DEATHS) usable = false;
      failAll(why);
    };
    c.on('error', () => died('could not start'));
    c.on('exit', (code) => died(`exited (${code})`));
    unref(c);
    child = c;
    return c;
  };
  const send = (netnsName: string, script: string): Promise<Reply> => {
    const c = ensure();
    const body = script.endsWith('\n') ? script : `${script}\n`;
    return replies.request(c, (id) => c.stdin!.write(`${id} ${netnsName}\n${body}\n`));
  };
  return {
    prepare(netnsName) {
      if (!SAFE_NETNS_NAME.test(netnsName))
        throw new TesseraError('validation', `cannot use netns name "${netnsName}" with ip -n`);
      if (!usable) return fallback(netnsName);
      let done = false;
      return {
        async run(script) {
          if (done) return;
          done = true;
          // Blank lines would end the request early; ip ignores them anyway.
          const lines = script.split('\n').filter((l) => l.trim() !== '');
          if (lines.length === 0) return;
          const r = await send(netnsName, lines.join('\n'));
          if (r.code === 0) return;
          if (r.code === 2) return fallback(netnsName).run(script);
          throw execFailed(`ip -n ${netnsName} -batch`, r.out || `exit ${r.code}`, script);
        },
        async cancel() {
          done = true;
        },
      };
    },
    close() {
      const c = child;
      failAll('was closed');
      c?.kill('SIGTERM');
    },
  };
}

export function startIpHelper(options: { netnsHelper?: string | undefined } = {}): IpRunner {
  // Re-creating a veth name it has used (its pod netns deleted before the DEL) starts a new ip:
  // see "Stale names" in BatchSession.
  const host = new BatchSession(['ip', '-force', '-batch', '-']);
  const bash = podStarter();
  const helperPath = options.netnsHelper ?? process.env['TESSERA_NETNS_HELPER'] ?? binPath('tessera-netns');
  const pods = helperPath && existsSync(helperPath) ? netnsHelper(helperPath, (n) => bash.prepare(n)) : bash;
  return {
    async batch(script, signal) {
      if (signal?.aborted) throw new TesseraError('aborted', 'cannot run ip batch: aborted', { cause: signal.reason });
      // Not abortable once handed over: a half-applied script must finish before any undo runs.
      await host.must(script.split('\n'));
    },
    prepareNetns: (name) => pods.prepare(name),
    close() {
      host.close();
      pods.close();
      if (pods !== bash) bash.close();
    },
  };
}
