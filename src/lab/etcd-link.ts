/**
 * The lab's etcd: a detached keeper process (etcd-keeper.ts) owns the members; every host netns
 * gets socat forwarders so that `http://127.0.0.1:2379` (member m: port 2379 + 10*m) inside the
 * node reaches etcd's unix socket. Host namespaces cannot reach the root netns' loopback, but a
 * unix socket is a file and is reachable from every netns.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TesseraError } from '../lib/errors.js';
import { sleep } from '../lib/clock.js';
import { isRunning, startDaemon } from './kernel.js';
import type { ProcessRecord } from './state.js';
import type { EtcdKeeperInfo } from './etcd-keeper.js';
import { HOST_ETCD_BASE_PORT, HOST_ETCD_PROXY_PORT } from './plan.js';
import { etcdProxyArgv } from './etcd.js';

/** argv to run a sibling module as a Node script, both from src/ (under tsx) and from dist/. */
export function siblingScriptArgv(module: string): string[] {
  const here = fileURLToPath(import.meta.url);
  const ext = here.endsWith('.ts') ? '.ts' : '.js';
  const loaderFlags: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--import' || a === '--loader' || a === '--require' || a === '-r') {
      loaderFlags.push(a, argv[i + 1] ?? '');
      i++;
    } else if (/^--(import|loader|require)=/.test(a)) {
      loaderFlags.push(a);
    }
  }
  return [process.execPath, ...loaderFlags, join(dirname(here), `${module}${ext}`)];
}

export function startEtcdKeeper(labName: string, dir: string, members: 1 | 3, log: string): ProcessRecord {
  return startDaemon(
    'etcd-keeper',
    [...siblingScriptArgv('etcd-keeper'), '--dir', dir, '--members', String(members), '--name', labName],
    { log },
  );
}

export async function waitEtcdKeeper(keeper: ProcessRecord, dir: string, timeoutMs: number): Promise<EtcdKeeperInfo> {
  const file = join(dir, 'etcd.json');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(file)) {
      try {
        return JSON.parse(readFileSync(file, 'utf8')) as EtcdKeeperInfo;
      } catch {
        // renamed into place but read raced: try again
      }
    }
    if (!isRunning(keeper)) {
      const tail =
        keeper.log && existsSync(keeper.log)
          ? readFileSync(keeper.log, 'utf8').trim().split('\n').slice(-5).join('\n')
          : '';
      throw new TesseraError('exec-failed', `cannot start the lab's etcd: keeper exited${tail ? `: ${tail}` : ''}`);
    }
    if (Date.now() > deadline)
      throw new TesseraError('timeout', `cannot start the lab's etcd: not serving after ${timeoutMs} ms`);
    await sleep(50);
  }
}

export function unixSocketPath(endpoint: string): string {
  return endpoint.replace(/^unixs?:\/\//, '');
}

export function hostEtcdEndpoints(members: number): string[] {
  return Array.from({ length: members }, (_, m) => `http://127.0.0.1:${HOST_ETCD_BASE_PORT + 10 * m}`);
}

export function startHostForwarders(
  netns: string,
  nodeName: string,
  sockets: readonly string[],
  logDir: string,
): ProcessRecord[] {
  return sockets.map((sock, m) =>
    startDaemon(
      `etcd-forward:${nodeName}:${m}`,
      ['socat', `TCP-LISTEN:${HOST_ETCD_BASE_PORT + 10 * m},bind=127.0.0.1,fork,reuseaddr`, `UNIX-CONNECT:${sock}`],
      { netns, log: join(logDir, `etcd-forward-${nodeName}.log`) },
    ),
  );
}

/**
 * `lab up --etcd-proxy`: an `etcd grpc-proxy` in the node netns on 127.0.0.1:23790, in front of every
 * member's unix socket; the node's agent and CNI plugin use it instead of etcd (one proxy per node,
 * as etcd's docs suggest per rack or host: identical watches are coalesced into one etcd watch).
 * Its data dir is under the lab dir, so `lab down`'s /proc sweep finds it by argv.
 */
export function startHostProxy(
  netns: string,
  nodeName: string,
  sockets: readonly string[],
  labDir: string,
  logDir: string,
): ProcessRecord {
  const dataDir = join(labDir, 'etcd-proxy', nodeName);
  return startDaemon(
    `etcd-proxy:${nodeName}`,
    etcdProxyArgv(
      sockets.map((s) => `unix://${s}`),
      `127.0.0.1:${HOST_ETCD_PROXY_PORT}`,
      dataDir,
    ),
    { netns, log: join(logDir, `etcd-proxy-${nodeName}.log`) },
  );
}

export function hostProxyEndpoints(): string[] {
  return [`http://127.0.0.1:${HOST_ETCD_PROXY_PORT}`];
}
