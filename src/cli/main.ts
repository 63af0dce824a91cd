/**
 * Entry of the `tessera` binary (bin/tessera loads the bundle of this file, dist/bin/tessera.cjs).
 *
 * DESIGN
 * - main.ts only wires process I/O and the real datastore into `runCli` (program.ts); everything
 *   testable lives behind `(args, deps)` verb functions in commands/.
 * - process.exit (not exitCode) because an etcd client may keep gRPC handles alive after close;
 *   stdout/stderr to pipes and files are synchronous on Linux, so nothing is lost.
 * - No top-level await: the bundle is CommonJS so that its launcher can load it with V8's code
 *   cache (scripts/bundle.mjs).
 */
import { processIO } from './io.js';
import { runCli } from './program.js';

void runCli(process.argv.slice(2), {
  io: processIO(),
  // The datastore modules (and node:http) load only for verbs that open it.
  openStore: async (selection) => (await import('./open-store.js')).openCliStore(selection),
}).then((code) => process.exit(code));
