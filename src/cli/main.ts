/**
 * Entry of the `tessera` binary (bin/tessera imports dist/src/cli/main.js).
 *
 * DESIGN
 * - main.ts only wires process I/O and the real datastore into `runCli` (program.ts); everything
 *   testable lives behind `(args, deps)` verb functions in commands/.
 * - process.exit (not exitCode) because an etcd client may keep gRPC handles alive after close;
 *   stdout/stderr to pipes and files are synchronous on Linux, so nothing is lost.
 */
import { openCliStore } from './open-store.js';
import { processIO } from './io.js';
import { runCli } from './program.js';

const code = await runCli(process.argv.slice(2), { io: processIO(), openStore: openCliStore });
process.exit(code);
