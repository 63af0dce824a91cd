/** Opens the configured backend: real etcd, or an in-memory store for tests and demos. */
import type { Backend } from './backend.js';
import { EtcdBackend, type EtcdTlsOptions } from './etcd/etcd-backend.js';
import { EtcdHttpBackend } from './etcd/http-backend.js';
import { MemoryBackend } from './memory/memory-backend.js';

export interface EtcdConfig {
  endpoints: string[];
  tls?: EtcdTlsOptions | undefined;
  /**
   * `grpc` (default): the etcd3 client, for long-lived processes. `http`: etcd's JSON gateway over
   * node:http, for short-lived ones (CLI, IPAM plugin): no gRPC to load or dial.
   */
  transport?: 'grpc' | 'http' | undefined;
}

export function openBackend(config: EtcdConfig | 'memory'): Backend {
  if (config === 'memory') return new MemoryBackend();
  const options = config.tls ? { endpoints: config.endpoints, tls: config.tls } : { endpoints: config.endpoints };
  return config.transport === 'http' ? new EtcdHttpBackend(options) : new EtcdBackend(options);
}
