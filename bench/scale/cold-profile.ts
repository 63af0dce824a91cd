/**
 * Developer tool (not part of `make bench-scale`): the agent's in-memory share of a cold start,
 * without etcd or the kernel, to profile it with `node --cpu-prof`. It builds the listing a cold
 * agent receives at `SCALE_NODES` x `SCALE_PODS` endpoints, `SCALE_POLICIES` policies and a block
 * per node (bench/lib/synthetic.ts, in etcd's key order), feeds it through the agent's mirror and
 * policy driver, then renders the first nftables state, and prints each phase's time and the heap.
 *   SCALE_NODES=1000 node --import tsx --cpu-prof bench/scale/cold-profile.ts
 */
import pino from 'pino';
import { DatastoreMirror } from '../../src/agent/mirror.js';
import { PolicyDriver } from '../../src/agent/policy-driver.js';
import { nextNftState, NftRenderCache } from '../../src/dataplane/nft/index.js';
import { bulkBlock, bulkPolicy, bulkPool, endpoint, remoteNode, type KeyValue } from '../lib/synthetic.js';

const num = (k: string, d: number) => Number(process.env[k] ?? d);
const nodes = num('SCALE_NODES', 1000);
const pods = num('SCALE_PODS', 30);
const policies = num('SCALE_POLICIES', 1000);

const kvs: KeyValue[] = [bulkPool()];
let n = 0;
for (let j = 0; j < nodes; j++) {
  kvs.push(remoteNode(j));
  const b = bulkBlock(j, pods);
  kvs.push(...b.kvs);
  b.ips.forEach((ip, p) => kvs.push(endpoint(`remote-${j}`, `p${p}`, ip, n++)));
}
for (let i = 0; i < policies; i++) kvs.push(bulkPolicy(i));
kvs.push(endpoint('node-1', 'local', '10.200.0.1', 0, 'web'));
kvs.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));

const gc = globalThis.gc;
gc?.();
const mib = (b: number) => (b / 1048576).toFixed(0);
const c0 = process.cpuUsage();
const t0 = performance.now();
const mirror = new DatastoreMirror(() => undefined);
const driver = new PolicyDriver({ nodeName: 'node-1', logger: pino({ level: 'silent' }) });
for (const kv of kvs) {
  const change = mirror.apply({ key: kv.key, value: kv.value });
  if (change) driver.onChange(change, mirror);
}
const t1 = performance.now();
const next = nextNftState(driver.calculator, undefined, true, new NftRenderCache());
const t2 = performance.now();
const cpu = process.cpuUsage(c0);
gc?.();
const heap = process.memoryUsage();
console.log(
  JSON.stringify({
    keys: kvs.length,
    endpoints: n,
    feedMs: Math.round(t1 - t0),
    renderMs: Math.round(t2 - t1),
    totalMs: Math.round(t2 - t0),
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    heapMiB: Number(mib(heap.heapUsed)),
    rssMiB: Number(mib(heap.rss)),
    sets: next.state ? Object.keys(next.state).length : 0,
  }),
);
await driver.stop();
