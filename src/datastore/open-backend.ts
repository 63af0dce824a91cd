/** Opens the configured backend: real etcd, or an in-memory store for tests and demos. */
import type { Backend } from './backend.js';
import { EtcdBackend, type EtcdTlsOptions } from './etcd/etcd-backend.js';
import { MemoryBackend } from './memory/memory-backend.js';

export interface EtcdConfig {
  endpoints: string[];
  tls?: EtcdTlsOptions;
}

export function openBackend(config: EtcdConfig | 'memory'): Backend {
  if (config === 'memory') return new MemoryBackend();
  return new EtcdBackend({ endpoints: config.endpoints, tls: config.tls });
}
