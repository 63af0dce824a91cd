/**
 * Lab state on disk: /run/tessera/labs/<name>/state.json plus pods/<ns>.<name>.json.
 * Writes are temp-file + rename (a crash never leaves half a file). Read-modify-write of
 * state.json and pod reservation happen under a per-lab lock file, because several CLI processes
 * (parallel `lab pod create`) may act on one lab at once.
 */
import {
  existsSync,
  mkdirSync,
  openSync,
  closeSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { TesseraError } from '../lib/errors.js';
import { sleep } from '../lib/clock.js';
import type { LabState, PodState } from './state.js';

export function labRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env['TESSERA_LAB_ROOT'] || '/run/tessera/labs';
}

export function labDir(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(labRoot(env), name);
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export function listLabNames(env: NodeJS.ProcessEnv = process.env): string[] {
  try {
    return readdirSync(labRoot(env), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}

export function readLabState(dir: string): LabState | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as LabState;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TesseraError('unavailable', `cannot read lab state "${join(dir, 'state.json')}"`, { cause: err });
  }
}

export function writeLabState(s: LabState): void {
  mkdirSync(s.dir, { recursive: true });
  writeAtomic(join(s.dir, 'state.json'), `${JSON.stringify(s, null, 2)}\n`);
}

function podFile(dir: string, namespace: string, name: string): string {
  return join(dir, 'pods', `${namespace}.${name}.json`);
}

export function readPods(dir: string): PodState[] {
  let files: string[];
  try {
    files = readdirSync(join(dir, 'pods')).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  const pods: PodState[] = [];
  for (const f of files) {
    try {
      pods.push(JSON.parse(readFileSync(join(dir, 'pods', f), 'utf8')) as PodState);
    } catch {
      // A pod file being renamed into place or removed concurrently: skip it this time.
    }
  }
  return pods;
}

export function readPod(dir: string, namespace: string, name: string): PodState | undefined {
  try {
    return JSON.parse(readFileSync(podFile(dir, namespace, name), 'utf8')) as PodState;
  } catch {
    return undefined;
  }
}

export function podExists(dir: string, namespace: string, name: string): boolean {
  return existsSync(podFile(dir, namespace, name));
}

export function writePod(dir: string, pod: PodState): void {
  mkdirSync(join(dir, 'pods'), { recursive: true });
  writeAtomic(podFile(dir, pod.namespace, pod.name), `${JSON.stringify(pod, null, 2)}\n`);
}

export function removePod(dir: string, namespace: string, name: string): void {
  rmSync(podFile(dir, namespace, name), { force: true });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs `fn` holding the lab's lock file; a lock whose holder died is taken over. */
export async function withLabLock<T>(dir: string, fn: () => Promise<T> | T, timeoutMs = 30_000): Promise<T> {
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, 'lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new TesseraError('unavailable', `cannot lock lab state "${lock}"`, { cause: err });
      }
      let holder = 0;
      try {
        holder = Number(readFileSync(lock, 'utf8'));
      } catch {
        continue; // released between our open and read
      }
      if (holder > 0 && !pidAlive(holder)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new TesseraError(
          'timeout',
          `cannot lock lab state "${lock}": held by pid ${holder} for over ${timeoutMs} ms`,
        );
      }
      await sleep(10 + Math.floor(Math.random() * 20));
    }
  }
  try {
    return await fn();
  } finally {
    try {
      unlinkSync(lock);
    } catch {
      // already gone (a down removed the directory)
    }
  }
}

/** Read-modify-write of state.json under the lock. */
export async function updateLabState(dir: string, f: (s: LabState) => LabState | Promise<LabState>): Promise<LabState> {
  return withLabLock(dir, async () => {
    const s = readLabState(dir);
    if (!s) throw new TesseraError('not-found', `lab state "${join(dir, 'state.json')}" is gone`);
    const next = await f(s);
    writeLabState(next);
    return next;
  });
}
