/**
 * `vmExec`: runs one command inside a fresh VM kernel (Debian's stock kernel under QEMU, the host's
 * / over 9p, as `lab up --kernel vm` does) and returns its exit code. For what this host's kernel
 * cannot run at all: the VM-kernel test suites run an ordinary test file this way, so the same test
 * code runs on both kernels.
 *
 * - The command runs as root in the repository, in the VM's own root network namespace, with the
 *   VM's own /run and /tmp (scripts/vm/stage2.sh), so labs it makes live and die with the VM.
 * - Its output is written to a host file (over 9p) that is streamed to `onOutput` as it grows.
 * - Everything the host keeps (script, output, result, console) is in one temp dir, removed at the
 *   end; QEMU is stopped if the command overruns `timeoutMs`.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TesseraError } from '../../lib/errors.js';
import { sleep } from '../../lib/clock.js';
import { repoRoot } from '../../lib/paths.js';
import { isRunning, startDaemon, stopProcess } from '../kernel.js';
import { prepareVmKernel, qemuCommand } from './runner.js';

export interface VmExecOptions {
  memoryMb?: number | undefined;
  cpus?: number | undefined;
  /** Environment variables set for the command inside the VM. */
  env?: Record<string, string> | undefined;
  /** Stops the VM after this long (default 40 minutes). */
  timeoutMs?: number | undefined;
  onOutput?: ((text: string) => void) | undefined;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs `argv` in a fresh VM; resolves to its exit code (the VM is gone when it resolves). */
export async function vmExec(argv: readonly string[], opts: VmExecOptions = {}): Promise<number> {
  if (argv.length === 0) throw new TesseraError('usage', 'vmExec needs a command');
  const kernelDir = await prepareVmKernel();
  // On the host's disk (the VM mounts its own tmpfs over /tmp and /run).
  const dir = mkdtempSync('/var/tmp/tessera-vmexec-');
  const out = join(dir, 'output.log');
  const result = join(dir, 'result');
  const script = [
    'set -e',
    `cd ${shellQuote(repoRoot())}`,
    ...Object.entries(opts.env ?? {}).map(([k, v]) => `export ${k}=${shellQuote(v)}`),
    'set +e',
    `${argv.map(shellQuote).join(' ')} > ${shellQuote(out)} 2>&1`,
  ].join('\n');
  writeFileSync(join(dir, 'run.sh'), `${script}\n`);
  writeFileSync(out, '');
  const qemu = startDaemon(
    'qemu',
    qemuCommand({
      name: `exec-${dir.slice(-6)}`,
      memoryMb: opts.memoryMb ?? 2048,
      cpus: opts.cpus ?? 2,
      kernelDir,
      console: join(dir, 'console.log'),
      append: [`tessera.exec=${join(dir, 'run.sh')}`, `tessera.result=${result}`],
      hostfwd: [],
    }),
    { log: join(dir, 'qemu.log') },
  );
  let offset = 0;
  const pump = () => {
    const fd = openSync(out, 'r');
    try {
      const buf = Buffer.alloc(65536);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, offset);
        if (n <= 0) break;
        offset += n;
        opts.onOutput?.(buf.subarray(0, n).toString('utf8'));
      }
    } finally {
      closeSync(fd);
    }
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 40 * 60_000);
  try {
    while (isRunning(qemu)) {
      pump();
      if (Date.now() > deadline) {
        await stopProcess(qemu, 3000);
        throw new TesseraError('timeout', `the VM command "${argv.join(' ')}" did not finish in time`);
      }
      await sleep(1000);
    }
    pump();
    let text: string;
    try {
      text = readFileSync(result, 'utf8').trim();
    } catch {
      const console = readFileSync(join(dir, 'console.log'), 'utf8').split('\n').slice(-20).join('\n');
      throw new TesseraError(
        'unavailable',
        `the VM stopped before "${argv.join(' ')}" finished; its console:\n${console}`,
      );
    }
    return Number(text);
  } finally {
    if (isRunning(qemu)) await stopProcess(qemu, 3000);
    rmSync(dir, { recursive: true, force: true });
  }
}
