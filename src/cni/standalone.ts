/**
 * The pure TypeScript executable path (no agent): one process per invocation, opening its own
 * datastore connection from the network config. Shared by `tessera-cni` and `tessera-ipam`.
 */
import { hostname } from 'node:os';
import { EtcdBackend, type Backend } from '../datastore/index.js';
import { IpamClient } from '../ipam/index.js';
import { systemClock } from '../lib/clock.js';
import { CNI_ERR, cniFailure } from './errors.js';
import { handleInvocation, type PluginMode } from './dispatch.js';
import type { CniRequest } from './types.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function backendFromConf(req: CniRequest): Backend {
  const c = req.conf;
  const endpoints = (c.etcd_endpoints || c.ipam?.etcd_endpoints || process.env['TESSERA_ETCD_ENDPOINTS'] || '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (endpoints.length === 0)
    throw cniFailure('validation', CNI_ERR.invalidConfig, 'invalid network config: "etcd_endpoints" is missing');
  const tls = {
    ...(c.etcd_ca_cert_file ? { caFile: c.etcd_ca_cert_file } : {}),
    ...(c.etcd_cert_file ? { certFile: c.etcd_cert_file } : {}),
    ...(c.etcd_key_file ? { keyFile: c.etcd_key_file } : {}),
  };
  return new EtcdBackend({
    endpoints,
    ...(Object.keys(tls).length ? { tls } : {}),
    callTimeoutMs: 5000,
    dialTimeoutMs: 3000,
  });
}

export async function runStandalone(mode: PluginMode): Promise<never> {
  const stdin = await readStdin();
  let backend: Backend | undefined;
  const reply = await handleInvocation(mode, process.env, stdin, async (req) => {
    backend = backendFromConf(req);
    return { backend, ipam: new IpamClient(backend), clock: systemClock, nodeName: hostname() };
  });
  process.stdout.write(reply.stdout);
  await backend?.close().catch(() => undefined);
  process.exit(reply.exitCode);
}
