/**
 * A lab's etcd outlives the `tessera lab up` process, but `startEtcdCluster` ties etcd's life to
 * the process that started it (pdeathsig). So `lab up` spawns this small detached keeper, which
 * owns the cluster and stays alive until `lab down` sends it SIGTERM (or SIGKILL: etcd dies with
 * it through pdeathsig, and `lab down` removes the data dirs recorded in `etcd.json`).
 *
 * Usage: etcd-keeper --dir DIR --members 1|3 --name NAME
 * Writes DIR/etcd.json ({ endpoints, unixEndpoints, dataDirs, pids }) once every member serves.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEtcdCluster } from './etcd.js';
import { describeError } from '../lib/errors.js';

export interface EtcdKeeperInfo {
  endpoints: string[];
  unixEndpoints: string[];
  dataDirs: string[];
  pids: number[];
  keeperPid: number;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const dir = arg('--dir');
  const members = Number(arg('--members') ?? '1');
  const name = arg('--name') ?? 'lab';
  if (!dir || (members !== 1 && members !== 3)) {
    console.error('usage: etcd-keeper --dir DIR --members 1|3 --name NAME');
    process.exit(2);
  }
  mkdirSync(dir, { recursive: true });
  const cluster = await startEtcdCluster({ members, name: `${name}-etcd`, unixSocket: dir });
  const info: EtcdKeeperInfo = {
    endpoints: cluster.endpoints,
    unixEndpoints: cluster.unixEndpoints ?? [],
    dataDirs: cluster.members.map((m) => m.dataDir),
    pids: cluster.members.map((m) => m.pid),
    keeperPid: process.pid,
  };
  const file = join(dir, 'etcd.json');
  writeFileSync(`${file}.tmp`, JSON.stringify(info));
  renameSync(`${file}.tmp`, file);
  console.log(`etcd-keeper: serving ${info.endpoints.join(',')}`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    try {
      await cluster.stop();
    } finally {
      rmSync(file, { force: true });
      process.exit(0);
    }
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  // Keep the event loop alive until a signal arrives.
  setInterval(() => undefined, 1 << 30);
}

main().catch((err) => {
  console.error(`etcd-keeper: ${describeError(err)}`);
  process.exit(1);
});
