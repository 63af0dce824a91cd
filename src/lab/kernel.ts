/**
 * Kernel operations the lab needs: namespaces, links, addresses, sysctls, processes.
 * Everything happens inside the lab's own namespaces; nothing here touches the root netns'
 * links, routes or firewall.
 */
import { openSync, closeSync, readFileSync, readdirSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { run, start } from '../lib/exec.js';
import { sleep } from '../lib/clock.js';
import type { ProcessRecord } from './state.js';

export async function listNetns(): Promise<string[]> {
  // `ip netns list` can show "(id: N)" suffixes; the directory is the source of truth.
  try {
    return readdirSync('/var/run/netns').sort();
  } catch {
    return [];
  }
}

export async function netnsExists(name: string): Promise<boolean> {
  return (await listNetns()).includes(name);
}

export async function addNetns(name: string): Promise<void> {
  await run(['ip', 'netns', 'add', name]);
  await run(['ip', 'link', 'set', 'lo', 'up'], { netns: name });
}

/** Deletes a netns; a missing one is success. */
export async function deleteNetns(name: string): Promise<void> {
  const r = await run(['ip', 'netns', 'delete', name], { check: false });
  if (r.code !== 0 && (await netnsExists(name))) {
    // A mount still busy (a process just exiting): retry briefly.
    await sleep(100);
    await run(['ip', 'netns', 'delete', name], { check: false });
  }
}

export async function sysctl(netns: string, settings: Record<string, string>): Promise<void> {
  const args = Object.entries(settings).map(([k, v]) => `${k}=${v}`);
  await run(['sysctl', '-q', '-w', ...args], { netns });
}

/** `ip -batch -` inside a netns: one process for many changes. */
export async function ipBatch(netns: string, lines: string[]): Promise<void> {
  if (lines.length === 0) return;
  await run(['ip', '-batch', '-'], { netns, input: `${lines.join('\n')}\n` });
}

/** PIDs of every process whose network namespace is `netns`. */
export async function netnsPids(netns: string): Promise<number[]> {
  const r = await run(['ip', 'netns', 'pids', netns], { check: false });
  if (r.code !== 0) return [];
  return r.stdout
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number);
}

export function processStartTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: split after the last ")".
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[19]);
  } catch {
    return undefined;
  }
}

/** True when the recorded process is still the same process (not a reused PID). */
export function isRunning(p: ProcessRecord): boolean {
  const ticks = processStartTicks(p.pid);
  if (ticks === undefined) return false;
  if (p.startTicks !== undefined && ticks !== p.startTicks) return false;
  try {
    const st = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
    return !/\) Z /.test(st);
  } catch {
    return false;
  }
}

/** Starts a daemon that outlives this CLI process; output goes to `log`. */
export function startDaemon(
  role: string,
  argv: string[],
  opts: { netns?: string; log: string; env?: NodeJS.ProcessEnv },
): ProcessRecord {
  mkdirSync(dirname(opts.log), { recursive: true });
  const fd = openSync(opts.log, 'a');
  try {
    const child = start(argv, {
      netns: opts.netns,
      detached: true,
      stdio: ['ignore', fd, fd],
      env: opts.env ?? process.env,
    });
    if (child.pid === undefined) throw new Error(`cannot start ${role}: "${argv.join(' ')}"`);
    child.on('error', () => undefined);
    child.unref();
    const rec: ProcessRecord = { role, pid: child.pid, log: opts.log };
    const ticks = processStartTicks(child.pid);
    if (ticks !== undefined) rec.startTicks = ticks;
    if (opts.netns !== undefined) rec.netns = opts.netns;
    return rec;
  } finally {
    closeSync(fd);
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** SIGTERM, then SIGKILL after `graceMs`. Only kills the recorded process, never a reused PID. */
export async function stopProcess(p: ProcessRecord, graceMs = 2000): Promise<void> {
  if (!isRunning(p)) return;
  signal(p.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isRunning(p)) return;
    await sleep(20);
  }
  signal(p.pid, 'SIGKILL');
  for (let i = 0; i < 50 && isRunning(p); i++) await sleep(20);
}

/** Kills every process living in the netns (daemons, socat servers, their children). */
export async function killNetnsProcesses(netns: string, graceMs = 1500): Promise<void> {
  let pids = await netnsPids(netns);
  if (pids.length === 0) return;
  for (const pid of pids) signal(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await sleep(30);
    pids = pids.filter((pid) => processStartTicks(pid) !== undefined && !isZombie(pid));
    if (pids.length === 0) return;
  }
  for (const pid of await netnsPids(netns)) signal(pid, 'SIGKILL');
}

function isZombie(pid: number): boolean {
  try {
    return /\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

export async function isRoot(): Promise<boolean> {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Ensures `ip netns` has its mount point (fresh machines have no /var/run/netns until first add). */
export function ensureNetnsDir(): void {
  mkdirSync('/var/run/netns', { recursive: true });
}

export function touch(path: string): void {
  closeSync(openSync(path, 'a'));
}
