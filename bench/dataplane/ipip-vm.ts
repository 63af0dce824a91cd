/**
 * `make bench-dataplane`, IPIP part: boots a VM kernel (src/lab/vm: Debian's stock kernel under
 * QEMU, which has the ipip device this host lacks) and runs bench/dataplane/ipip.ts inside it, so
 * Tessera's IPIP path and the hand-wired IPIP baseline are measured side by side in the same kernel.
 * Prints that run's output; exits with its code.
 */
import { vmExec } from '../../src/lab/index.js';
import { describeError } from '../../src/lib/errors.js';

vmExec(['node', '--import', 'tsx', 'bench/dataplane/ipip.ts'], {
  env: Object.fromEntries(
    ['BENCH_SECONDS', 'BENCH_ROUNDS'].flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : [])),
  ),
  onOutput: (s) => process.stdout.write(s),
}).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`bench-dataplane (IPIP in a VM): ${describeError(e)}`);
    process.exit(2);
  },
);
