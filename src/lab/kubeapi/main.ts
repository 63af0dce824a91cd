/**
 * The stand-in API server as its own process (the lab starts it detached, like the etcd keeper):
 *   main.ts --etcd unix:///.../etcd.sock:0 [--host 127.0.0.1] [--port 0] [--socket PATH] --info FILE
 * Writes FILE (JSON: url, socketPath, pid) once serving; SIGTERM/SIGINT stop it.
 */
import { renameSync, writeFileSync } from 'node:fs';
import { openBackend } from '../../datastore/index.js';
import { KubeApiServer } from './server.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const endpoints = (arg('etcd') ?? '').split(',').filter(Boolean);
  if (endpoints.length === 0) throw new Error('kubeapi: --etcd ENDPOINTS is required');
  const info = arg('info');
  const backend = openBackend({ endpoints });
  const bookmark = arg('bookmark-interval-ms');
  const server = new KubeApiServer({
    backend,
    ...(bookmark ? { bookmarkIntervalMs: Number(bookmark) } : {}),
    log: (l) => process.stderr.write(`${new Date().toISOString()} ${l}\n`),
  });
  const portText = arg('port');
  const listening = await server.listen({
    host: arg('host'),
    port: portText === undefined ? undefined : Number(portText),
    socketPath: arg('socket'),
  });
  if (info) {
    writeFileSync(`${info}.tmp`, JSON.stringify({ ...listening, pid: process.pid }));
    renameSync(`${info}.tmp`, info);
  }
  process.stderr.write(
    `kubeapi (stand-in, lab only) serving ${[listening.url, listening.socketPath].filter(Boolean).join(' and ')}\n`,
  );
  const stop = () => {
    void server.close().finally(() => void backend.close().finally(() => process.exit(0)));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`kubeapi: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
