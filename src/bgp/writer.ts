/**
 * BirdWriter: the only code that touches BIRD. Writes bird.conf, checks it with `bird -p` before
 * use, and loads it with one `birdc configure` only when the text changed; starts BIRD if it is
 * not running.
 *
 * Invariants a reviewer must check:
 *  - A config BIRD rejects is never installed: it is written to `bird.conf.new`, checked, and
 *    only renamed over `bird.conf` after `bird -p` accepts it. The running BIRD keeps its config.
 *  - At most one reload per changed text; an unchanged text costs nothing (compared in memory,
 *    and against the file on disk after an agent restart).
 *  - BIRD is left running when the agent stops: kernel routes and BGP sessions survive an agent
 *    restart, and the restarted agent adopts the daemon through its socket (`stop()` exists for
 *    tests and lab routers only).
 */
import { readFile, rename, writeFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { TesseraError } from '../lib/errors.js';
import { run } from '../lib/exec.js';
import { sleep } from '../lib/clock.js';

export interface BirdPaths {
  dir: string;
  conf: string;
  socket: string;
  pid: string;
}

/** Where a node's BIRD lives: `<stateDir>/bird/{bird.conf,bird.ctl,bird.pid}`. */
export function birdPaths(stateDir: string): BirdPaths {
  const dir = join(stateDir, 'bird');
  return { dir, conf: join(dir, 'bird.conf'), socket: join(dir, 'bird.ctl'), pid: join(dir, 'bird.pid') };
}

export interface BirdWriterOptions {
  stateDir: string;
  /** Run bird/birdc in this network namespace (lab routers, tests); the agent already runs in its node's. */
  netns?: string;
  /** How long to wait for a started BIRD's control socket. Default 5000. */
  startTimeoutMs?: number;
}

export interface WriteResult {
  changed: boolean;
  reloaded: boolean;
  started: boolean;
}

export class BirdWriter {
  readonly paths: BirdPaths;
  private applied: string | undefined;

  constructor(private readonly options: BirdWriterOptions) {
    this.paths = birdPaths(options.stateDir);
  }

  private exec(argv: string[], check = true) {
    return run(argv, { check, timeoutMs: 10_000, ...(this.options.netns ? { netns: this.options.netns } : {}) });
  }

  /** Runs one birdc command; undefined when BIRD does not answer. */
  async birdc(...args: string[]): Promise<string | undefined> {
    const r = await this.exec(['birdc', '-s', this.paths.socket, ...args], false);
    if (r.code !== 0 || !r.stdout.includes('BIRD')) return undefined;
    return r.stdout;
  }

  async isRunning(): Promise<boolean> {
    return (await this.birdc('show', 'status')) !== undefined;
  }

  /** The pid of our BIRD if that process is alive (no socket round trip: BIRD may be busy). */
  private async livePid(): Promise<number | undefined> {
    const pid = Number((await readFile(this.paths.pid, 'utf8').catch(() => '')).trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    // The pid file may outlive BIRD; a recycled pid that is not bird is not ours.
    const comm = (await readFile(`/proc/${pid}/comm`, 'utf8').catch(() => '')).trim();
    return comm === 'bird' ? pid : undefined;
  }

  /** Checks a config text with `bird -p`; throws TesseraError('validation') quoting BIRD's complaint. */
  async check(text: string, path = `${this.paths.conf}.new`): Promise<void> {
    await mkdir(this.paths.dir, { recursive: true });
    await writeFile(path, text);
    const r = await this.exec(['bird', '-p', '-c', path], false);
    if (r.code !== 0) {
      throw new TesseraError(
        'validation',
        `BIRD rejected the generated config "${path}": ${(r.stderr || r.stdout).trim()}`,
        {
          details: { path },
        },
      );
    }
  }

  /** Installs `text` as the node's BIRD config (see the file header for the guarantees). */
  async write(text: string): Promise<WriteResult> {
    const running = (await this.livePid()) !== undefined;
    if (this.applied === undefined) this.applied = await readFile(this.paths.conf, 'utf8').catch(() => undefined);
    if (running && text === this.applied) return { changed: false, reloaded: false, started: false };
    const changed = text !== this.applied;
    if (changed) {
      await this.check(text);
      await rename(`${this.paths.conf}.new`, this.paths.conf);
      this.applied = text;
    }
    if (!running) {
      await this.startDaemon();
      return { changed, reloaded: false, started: true };
    }
    const out = (await this.birdc('configure')) ?? '';
    if (!/Reconfigured|Reconfiguration in progress|Reconfiguration already in progress/.test(out)) {
      this.applied = undefined; // unknown state: try again next cycle
      throw new TesseraError(
        'exec-failed',
        `cannot reload BIRD with "${this.paths.conf}": ${out.trim() || 'no answer on its control socket'}`,
      );
    }
    return { changed, reloaded: true, started: false };
  }

  private async startDaemon(): Promise<void> {
    // A crashed BIRD leaves its socket behind; bird refuses to bind over a live one, not a stale one.
    await rm(this.paths.socket, { force: true });
    await this.exec(['bird', '-c', this.paths.conf, '-s', this.paths.socket, '-P', this.paths.pid]);
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 5000);
    while (Date.now() < deadline) {
      if (await this.isRunning()) return;
      await sleep(50);
    }
    throw new TesseraError(
      'timeout',
      `BIRD started with "${this.paths.conf}" but its socket "${this.paths.socket}" did not answer`,
    );
  }

  /** Stops BIRD (SIGTERM: it withdraws its routes and closes sessions with a Cease). Idempotent. */
  async stop(): Promise<void> {
    const pid = await this.livePid();
    if (pid === undefined) return;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
    for (let i = 0; i < 100; i++) {
      try {
        process.kill(pid, 0);
      } catch {
        break;
      }
      await sleep(20);
    }
    this.applied = undefined;
  }
}
