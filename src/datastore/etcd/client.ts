/**
 * The `etcd3` client library, loaded on first use. It pulls in grpc-js and protobufjs (~200 ms of
 * module loading), which CLI commands that never reach etcd (`validate`, `--client-version`,
 * `lab status`, `help`) should not pay for. etcd3 is CommonJS, so a synchronous require works.
 */
import { createRequire } from 'node:module';
import type * as Etcd3Module from 'etcd3';

let loaded: typeof Etcd3Module | undefined;

export function etcd3(): typeof Etcd3Module {
  loaded ??= createRequire(import.meta.url)('etcd3') as typeof Etcd3Module;
  return loaded;
}
