/**
 * The `etcd3` client library, loaded on first use. It pulls in grpc-js and protobufjs (~200 ms of
 * module loading), which CLI commands that never reach etcd (`validate`, `--client-version`,
 * `lab status`, `help`) should not pay for. etcd3 is CommonJS, so a synchronous require works.
 */
import { createRequire } from 'node:module';
import type * as Etcd3Module from 'etcd3';

let loaded: typeof Etcd3Module | undefined;

export function etcd3(): typeof Etcd3Module {
  if (!loaded) {
    loaded = createRequire(import.meta.url)('etcd3') as typeof Etcd3Module;
    quietIpServerNameWarning();
  }
  return loaded;
}

/**
 * grpc-js gives Node's TLS an IP endpoint (`https://10.0.0.5:2379`) as the ServerName, and Node
 * prints DEP0123 to stderr for it once per process. The server certificate is still verified against
 * that IP, so the warning only confuses CLI users and agent logs: drop that one warning.
 */
function quietIpServerNameWarning(): void {
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((...args: unknown[]) => {
    if (
      args.some(
        (a) => a === 'DEP0123' || (typeof a === 'object' && a !== null && (a as { code?: string }).code === 'DEP0123'),
      )
    )
      return;
    emit(...args);
  }) as typeof process.emitWarning;
}
