/**
 * `NODE_EXTRA_CA_CERTS` for the CLI's etcd connections. Node parses that file at every start, before
 * any code runs: ~45 ms on a machine that points it at the whole system bundle, a quarter of a
 * `tessera get`. So bin/tessera moves it aside (to `TESSERA_EXTRA_CA_CERTS`) and the etcd backends
 * add the file to the default roots themselves, for an https endpoint with no caFile of its own:
 * the same trust as Node would have given them.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

// node:tls (with crypto) is loaded only when the file is set: importing it costs a plain-http
// `tessera get` ~10 ms of start-up (tls-probe.ts and http-backend.ts load it the same way).
const rootCertificates = (): readonly string[] =>
  (createRequire(import.meta.url)('node:tls') as typeof import('node:tls')).rootCertificates;

/** Node's default roots plus the moved-aside extra CA file, or undefined when there is none. */
export function defaultRootsWithExtra(env: NodeJS.ProcessEnv = process.env): Buffer | undefined {
  const file = env['TESSERA_EXTRA_CA_CERTS'];
  if (!file) return undefined;
  let extra: string;
  try {
    extra = readFileSync(file, 'utf8');
  } catch {
    // Node itself only warns about an unreadable NODE_EXTRA_CA_CERTS and goes on with its roots.
    return undefined;
  }
  return Buffer.from(`${rootCertificates().join('\n')}\n${extra}`);
}
