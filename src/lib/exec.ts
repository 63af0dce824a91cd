/**
 * The only module that spawns child processes. Everything that runs `ip`, `nft`, `bird`, `etcd`
 * goes through here so that failures carry the command, exit code and stderr in one error.
 */
import { spawn, type SpawnOptions, type ChildProcess } from 'node:child_process';
import { TesseraError } from './errors.js';

export interface ExecOptions {
  /** Text written to the child's stdin (then closed). */
  input?: string | undefined;
  /** Run inside this network namespace (via `ip netns exec`). */
  netns?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  cwd?: string | undefined;
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
  /** When false, a non-zero exit resolves instead of throwing. Default true. */
  check?: boolean | undefined;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function netnsArgv(argv: string[], netns?: string): string[] {
  return netns ? ['ip', 'netns', 'exec', netns, ...argv] : argv;
}

/** Runs a command to completion and collects its output. */
export function run(argv: string[], options: ExecOptions = {}): Promise<ExecResult> {
  const full = netnsArgv(argv, options.netns);
  const [cmd, ...args] = full;
  if (cmd === undefined) throw new TesseraError('bug', 'cannot run an empty command');
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      cwd: options.cwd,
      signal: options.signal,
      timeout: options.timeoutMs,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      reject(new TesseraError('exec-failed', `cannot run "${full.join(' ')}"`, { cause: e }));
    });
    child.on('close', (code, sig) => {
      const result: ExecResult = {
        code: code ?? 128,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if (result.code !== 0 && options.check !== false) {
        const why = sig ? `killed by ${sig}` : `exit ${result.code}`;
        reject(
          new TesseraError('exec-failed', `command "${full.join(' ')}" failed (${why}): ${result.stderr.trim()}`, {
            details: { ...result, argv: full },
          }),
        );
        return;
      }
      resolve(result);
    });
    child.stdin.on('error', () => undefined); // child may exit before reading stdin
    child.stdin.end(options.input ?? '');
  });
}

/** Starts a long-running process (a daemon) and returns its handle. */
export function start(argv: string[], options: SpawnOptions & { netns?: string | undefined } = {}): ChildProcess {
  const full = netnsArgv(argv, options.netns);
  const [cmd, ...args] = full;
  if (cmd === undefined) throw new TesseraError('bug', 'cannot start an empty command');
  return spawn(cmd, args, options);
}
