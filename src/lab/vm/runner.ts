/**
 * The host side of `tessera lab ... --kernel vm`: one QEMU VM (Debian's stock kernel, the host's /
 * over 9p, see scripts/vm/) runs the whole lab, and every `tessera lab` subcommand runs inside it
 * through the VM's command server (server.ts), so output and exit codes are those of a host lab.
 *
 * DESIGN
 * - The host keeps only <labDir>/vm.json (recorded BEFORE QEMU starts) and the VM's console log;
 *   `lab down` asks the server to stop, waits for QEMU to exit (SIGTERM/SIGKILL after a grace
 *   period) and removes the directory and the context: nothing is left behind.
 * - QEMU's user-mode network forwards two loopback ports of the host: the control port and an etcd
 *   port (the host's CLI context points there, so `tessera get/apply/patch` reach the lab's etcd).
 * - QEMU's argv names the lab dir, so the host lab's /proc sweep also finds a VM left by a killed
 *   `lab up`.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TesseraError } from '../../lib/errors.js';
import { run } from '../../lib/exec.js';
import { sleep } from '../../lib/clock.js';
import { repoRoot } from '../../lib/paths.js';
import { readCliConfig, removeContext, setContext } from '../../lib/context.js';
import { isRunning, startDaemon, stopProcess } from '../kernel.js';
import { labDir } from '../store.js';
import type { ProcessRecord } from '../state.js';
import { VM_CONTROL_PORT, VM_ETCD_PORT, decodeFrames } from './protocol.js';

export interface VmRecord {
  kind: 'vm';
  name: string;
  memoryMb: number;
  kernelDir: string;
  controlPort: number;
  etcdPort: number;
  console: string;
  /** Every request carries it: the control port is on the host's loopback, open to every local user. */
  tokenFile: string;
  qemu?: ProcessRecord;
}

export interface VmOptions {
  env?: NodeJS.ProcessEnv;
  onProgress?: (line: string) => void;
  /** How long to wait for the VM's command server (default 300 s: TCG on a busy machine). */
  bootTimeoutMs?: number;
  /** Where the output of commands run inside the VM goes (default this process's stdout/stderr). */
  io?: ForwardIO;
}

const vmFile = (name: string, env?: NodeJS.ProcessEnv) => join(labDir(name, env), 'vm.json');

export function isVmLab(name: string, env: NodeJS.ProcessEnv = process.env): boolean {
  return existsSync(vmFile(name, env));
}

export function readVmRecord(name: string, env: NodeJS.ProcessEnv = process.env): VmRecord | undefined {
  try {
    return JSON.parse(readFileSync(vmFile(name, env), 'utf8')) as VmRecord;
  } catch {
    return undefined;
  }
}

function writeVmRecord(r: VmRecord, env?: NodeJS.ProcessEnv): void {
  writeFileSync(vmFile(r.name, env), `${JSON.stringify(r, null, 2)}\n`);
}

/** `--memory`: "2G", "1536M" or a number of MiB. */
export function parseMemory(text: string | undefined): number {
  if (text === undefined) return 2048;
  const m = /^(\d+)\s*([gGmM]?)i?[bB]?$/.exec(text.trim());
  const mb = m ? Number(m[1]) * (m[2]?.toLowerCase() === 'g' ? 1024 : 1) : Number.NaN;
  if (!Number.isInteger(mb) || mb < 512 || mb > 16384) {
    throw new TesseraError('usage', `--memory "${text}" is invalid: expected 512M to 16G (e.g. 2G, 1536M)`);
  }
  return mb;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Fetches and prepares Debian's kernel and the initramfs (cached; see scripts/vm/build.sh). */
export async function prepareVmKernel(): Promise<string> {
  const r = await run([join(repoRoot(), 'scripts', 'vm', 'build.sh')], { check: false, timeoutMs: 600_000 });
  if (r.code !== 0)
    throw new TesseraError(
      'unavailable',
      `cannot prepare the VM kernel (scripts/vm/build.sh): ${r.stderr.trim() || r.stdout.trim()}`,
    );
  return r.stdout.trim().split('\n').pop()!;
}

export interface QemuSpec {
  name: string;
  memoryMb: number;
  cpus: number;
  kernelDir: string;
  console: string;
  /** Extra `tessera.*` kernel arguments for scripts/vm/stage2.sh. */
  append: string[];
  /** `tcp:127.0.0.1:HOSTPORT-:VMPORT` forwards (host loopback only). */
  hostfwd: string[];
}

/** QEMU's argv for a VM with the host's / over 9p running scripts/vm/stage2.sh. */
export function qemuCommand(q: QemuSpec): string[] {
  const root = repoRoot();
  const append = [
    'console=ttyS0',
    'quiet',
    'panic=-1',
    `tessera.stage2=${join(root, 'scripts', 'vm', 'stage2.sh')}`,
    `tessera.repo=${root}`,
    ...q.append,
  ].join(' ');
  return [
    'qemu-system-x86_64',
    '-name',
    `tessera-${q.name}`,
    '-m',
    String(q.memoryMb),
    '-smp',
    String(q.cpus),
    '-accel',
    'tcg,thread=multi',
    '-display',
    'none',
    '-vga',
    'none',
    '-monitor',
    'none',
    '-no-reboot',
    '-serial',
    `file:${q.console}`,
    '-kernel',
    join(q.kernelDir, 'vmlinuz'),
    '-initrd',
    join(q.kernelDir, 'initrd.gz'),
    '-append',
    append,
    '-fsdev',
    'local,id=hostroot,path=/,security_model=passthrough,multidevs=remap',
    '-device',
    'virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot',
    '-netdev',
    ['user,id=n0,restrict=off', ...q.hostfwd.map((f) => `hostfwd=${f}`)].join(','),
    '-device',
    'virtio-net-pci,netdev=n0',
  ];
}

export function qemuArgv(r: VmRecord, cpus: number): string[] {
  return qemuCommand({
    name: r.name,
    memoryMb: r.memoryMb,
    cpus,
    kernelDir: r.kernelDir,
    console: r.console,
    append: [`tessera.token_file=${r.tokenFile}`],
    hostfwd: [`tcp:127.0.0.1:${r.controlPort}-:${VM_CONTROL_PORT}`, `tcp:127.0.0.1:${r.etcdPort}-:${VM_ETCD_PORT}`],
  });
}

function authHeader(r: VmRecord): Record<string, string> {
  try {
    return { authorization: `Bearer ${readFileSync(r.tokenFile, 'utf8').trim()}` };
  } catch {
    return {};
  }
}

function httpCall(
  r: VmRecord,
  method: string,
  path: string,
  timeoutMs: number,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: r.controlPort, method, path, timeout: timeoutMs, headers: authHeader(r) },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

function consoleTail(r: VmRecord): string {
  try {
    return readFileSync(r.console, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no console output)';
  }
}

/** Boots the lab VM and waits for its command server. Recorded in vm.json before QEMU starts. */
export async function vmBoot(name: string, memoryMb: number, opts: VmOptions = {}): Promise<VmRecord> {
  const env = opts.env ?? process.env;
  const say = opts.onProgress ?? (() => undefined);
  const dir = labDir(name, env);
  if (existsSync(dir)) {
    throw new TesseraError(
      'already-exists',
      `cannot create lab "${name}": it already exists; remove it with \`tessera lab down --name ${name}\``,
    );
  }
  const t0 = Date.now();
  say(`lab "${name}": preparing the VM kernel (Debian's stock kernel, cached in /var/cache/tessera/vm)`);
  const kernelDir = await prepareVmKernel();
  mkdirSync(dir, { recursive: true });
  const rec: VmRecord = {
    kind: 'vm',
    name,
    memoryMb,
    kernelDir,
    controlPort: await freePort(),
    etcdPort: await freePort(),
    console: join(dir, 'console.log'),
    tokenFile: join(dir, 'token'),
  };
  writeVmRecord(rec, env);
  writeFileSync(rec.tokenFile, randomBytes(24).toString('hex'), { mode: 0o600 });
  say(`lab "${name}": booting a QEMU VM (${memoryMb} MiB, TCG) with the host's / over 9p`);
  rec.qemu = startDaemon('qemu', qemuArgv(rec, 2), { log: join(dir, 'qemu.log'), env });
  writeVmRecord(rec, env);
  const deadline = Date.now() + (opts.bootTimeoutMs ?? 300_000);
  for (;;) {
    if (!isRunning(rec.qemu)) {
      throw new TesseraError(
        'unavailable',
        `the lab VM exited while booting; its console:\n${consoleTail(rec)}\n${readQemuLog(dir)}`,
      );
    }
    const ok = await httpCall(rec, 'GET', '/ping', 2000).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline)
      throw new TesseraError(
        'timeout',
        `the lab VM did not answer within ${Math.round((opts.bootTimeoutMs ?? 300_000) / 1000)} s; its console:\n${consoleTail(rec)}`,
      );
    await sleep(500);
  }
  say(`lab "${name}": VM up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return rec;
}

function readQemuLog(dir: string): string {
  try {
    return readFileSync(join(dir, 'qemu.log'), 'utf8').trim();
  } catch {
    return '';
  }
}

export interface ForwardIO {
  stdout: (b: Buffer) => void;
  stderr: (b: Buffer) => void;
}

const processIO: ForwardIO = { stdout: (b) => process.stdout.write(b), stderr: (b) => process.stderr.write(b) };

/** Runs `tessera ARGV` inside the lab's VM; returns its exit code (its output goes to `io`). */
export function vmRun(rec: VmRecord, argv: string[], io: ForwardIO = processIO): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: rec.controlPort, method: 'POST', path: '/run', headers: authHeader(rec) },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new TesseraError('unavailable', `the lab VM refused "${argv.join(' ')}" (HTTP ${res.statusCode})`));
          return;
        }
        let rest = '';
        let code: number | undefined;
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          const d = decodeFrames(rest + c);
          rest = d.rest;
          for (const f of d.frames) {
            if ('exit' in f) code = f.exit;
            else (f.fd === 1 ? io.stdout : io.stderr)(Buffer.from(f.data, 'base64'));
          }
        });
        res.on('end', () => {
          if (code === undefined)
            reject(new TesseraError('unavailable', `the lab VM stopped answering during "${argv.join(' ')}"`));
          else resolve(code);
        });
        res.on('error', reject);
      },
    );
    req.on('error', (err) =>
      reject(
        new TesseraError('unavailable', `cannot reach the lab VM of "${rec.name}" on 127.0.0.1:${rec.controlPort}`, {
          cause: err,
        }),
      ),
    );
    req.end(JSON.stringify({ argv }));
  });
}

export function requireVmRecord(name: string, env?: NodeJS.ProcessEnv): VmRecord {
  const rec = readVmRecord(name, env);
  if (!rec) throw new TesseraError('not-found', `lab "${name}" is not a VM lab (no "${vmFile(name, env)}")`);
  return rec;
}

/** `lab up --kernel vm`: boots the VM, runs `lab up` inside, points the host's context at it. */
export async function vmLabUp(name: string, memoryMb: number, upArgv: string[], opts: VmOptions = {}): Promise<number> {
  const env = opts.env ?? process.env;
  let rec: VmRecord;
  try {
    rec = await vmBoot(name, memoryMb, opts);
    const code = await vmRun(rec, upArgv, opts.io);
    if (code !== 0) {
      await vmLabDown(name, opts);
      return code;
    }
  } catch (err) {
    if (!(err instanceof TesseraError && err.code === 'already-exists')) await vmLabDown(name, opts);
    throw err;
  }
  setContext(name, { etcdEndpoints: [`http://127.0.0.1:${rec.etcdPort}`], lab: name }, { makeCurrent: true, env });
  return 0;
}

/** Stops the VM (its whole lab dies with it) and removes everything the host kept for it. */
export async function vmLabDown(name: string, opts: VmOptions = {}): Promise<boolean> {
  const env = opts.env ?? process.env;
  const rec = readVmRecord(name, env);
  const dir = labDir(name, env);
  if (!rec && !existsSync(dir)) return false;
  if (rec?.qemu && isRunning(rec.qemu)) {
    await httpCall(rec, 'POST', '/shutdown', 3000).catch(() => undefined);
    for (let i = 0; i < 100 && isRunning(rec.qemu); i++) await sleep(100);
    await stopProcess(rec.qemu, 3000);
  }
  rmSync(dir, { recursive: true, force: true });
  const cfg = readCliConfig(env);
  if (cfg.contexts[name]?.lab === name) removeContext(name, { env });
  opts.onProgress?.(`lab "${name}" removed (VM stopped)`);
  return true;
}
