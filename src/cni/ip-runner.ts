/**
 * How the CNI code runs `ip -batch` scripts.
 *
 * `directIpRunner` spawns `ip` per script: right for the one-shot TypeScript plugin, whose process
 * is small. A long-lived Node process (the agent, the CNI server) pays for every spawn with a
 * fork of its whole address space: measured here, the event loop blocks 3 ms at 50 MB RSS and
 * 30-45 ms at 250 MB, so 16 concurrent ADDs spent hundreds of ms just forking. `startIpHelper`
 * instead keeps one small bash child and hands it one line per script; bash forks `ip` (cheap)
 * in the background, so scripts run concurrently, and reports "<id> <exit code> <output>" on one
 * line (one write under PIPE_BUF, so concurrent reports never interleave). bash, not dash: bash
 * reaps its finished background jobs, dash leaves zombies until its next foreground command.
 *
 * Only our own generated file paths and numeric ids ever reach the shell: names and addresses are
 * inside the script file, which `ip` parses.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { TesseraError } from '../lib/errors.js';
import { run, start } from '../lib/exec.js';

export interface IpRunner {
  /** Runs `ip -batch` over `script`; rejects with `exec-failed` carrying ip's output. */
  batch(script: string, signal?: AbortSignal): Promise<void>;
  /** Stops the helper, if any (pending scripts are rejected). */
  close(): void;
}

export const BATCH_DIR = '/run/tessera/cni';

export const directIpRunner: IpRunner = {
  async batch(script, signal) {
    await run(['ip', '-batch', '-'], { input: script, ...(signal ? { signal } : {}) });
  },
  close() {},
};

interface Pending {
  resolve: () => void;
  reject: (e: unknown) => void;
  script: string;
}

export function startIpHelper(): IpRunner {
  let sh: ChildProcess | undefined;
  let out = '';
  let seq = 0;
  let dirReady: Promise<unknown> | undefined;
  const pending = new Map<number, Pending>();

  const failAll = (why: string): void => {
    for (const p of pending.values()) p.reject(new TesseraError('exec-failed', `cannot run ip batch: the ip helper ${why}`));
    pending.clear();
    sh = undefined;
  };
  const onLine = (line: string): void => {
    const m = /^(\d+) (\d+) ?(.*)$/.exec(line);
    if (!m) return;
    const p = pending.get(Number(m[1]));
    if (!p) return;
    pending.delete(Number(m[1]));
    if (m[2] === '0') p.resolve();
    else {
      p.reject(
        new TesseraError('exec-failed', `command "ip -batch" failed (exit ${m[2]}): ${m[3]!.trim()}`, {
          details: { code: Number(m[2]), stderr: m[3], script: p.script },
        }),
      );
    }
  };
  const ensure = (): ChildProcess => {
    if (sh && sh.exitCode === null && !sh.killed) return sh;
    const child = start(['/bin/bash', '--norc', '--noprofile'], { stdio: ['pipe', 'pipe', 'ignore'] });
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      out += d;
      for (let i = out.indexOf('\n'); i >= 0; i = out.indexOf('\n')) {
        onLine(out.slice(0, i));
        out = out.slice(i + 1);
      }
    });
    child.stdin!.on('error', () => undefined);
    child.on('error', () => child === sh && failAll('could not start'));
    child.on('exit', (code) => child === sh && failAll(`exited (${code})`));
    // The helper must not keep a finished process alive.
    child.unref();
    (child.stdout as Socket).unref();
    (child.stdin as unknown as Socket).unref();
    sh = child;
    out = '';
    return child;
  };

  return {
    async batch(script, signal) {
      if (signal?.aborted) throw new TesseraError('aborted', 'cannot run ip batch: aborted', { cause: signal.reason });
      dirReady ??= mkdir(BATCH_DIR, { recursive: true });
      await dirReady;
      const id = ++seq;
      const file = `${BATCH_DIR}/${process.pid}-${id}.ip`;
      await writeFile(file, script);
      try {
        // Not abortable once handed over: a half-applied script must finish before any undo runs.
        await new Promise<void>((resolve, reject) => {
          pending.set(id, { resolve, reject, script });
          const line = `{ o=$(ip -batch '${file}' 2>&1 </dev/null); r=$?; o=\${o//$'\\n'/ }; printf '%s %s %s\\n' ${id} "$r" "\${o:0:3000}"; } &\n`;
          ensure().stdin!.write(line);
        });
      } finally {
        await rm(file, { force: true });
      }
    },
    close() {
      const child = sh;
      failAll('was closed');
      child?.kill('SIGTERM');
    },
  };
}
