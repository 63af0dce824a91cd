/**
 * Child process of the datastore bench: a FRESH Syncer (new process, new client) syncs the given
 * prefixes to in-sync, keeping every value the way an agent's mirror would, then prints one JSON
 * line: { elapsedMs (client creation -> in-sync), processMs (process start -> in-sync), updates,
 * maxRssMiB }.
 */
import { performance } from 'node:perf_hooks';
import { EtcdBackend, Syncer } from '../../src/datastore/index.js';

const [endpointsArg, pageSizeArg, ...prefixes] = process.argv.slice(2);
if (!endpointsArg || prefixes.length === 0) {
  process.stderr.write('usage: sync-child.ts <endpoints,...> <pageSize> <prefix>...\n');
  process.exit(2);
}

const t0 = performance.now();
const backend = new EtcdBackend({ endpoints: endpointsArg.split(','), pageSize: Number(pageSizeArg) || undefined });
const mirror = new Map<string, string>();
const syncer = new Syncer({
  backend,
  prefixes,
  onUpdates: (updates) => {
    for (const u of updates) {
      if (u.value === undefined) mirror.delete(u.key);
      else mirror.set(u.key, u.value);
    }
  },
});
syncer.start();
await syncer.waitFor('in-sync');
const elapsedMs = performance.now() - t0;
const processMs = performance.now(); // time origin is process start
const maxRssMiB = process.resourceUsage().maxRSS / 1024;
await syncer.stop();
await backend.close();
process.stdout.write(`${JSON.stringify({ elapsedMs, processMs, updates: mirror.size, maxRssMiB })}\n`);
