/**
 * `tessera node status`: against a real local BIRD (an external router in a namespace, via its
 * socket) and against a CalicoNodeStatus read back from the datastore.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lookupKind } from '../src/api/kinds.js';
import { MemoryBackend, ResourceStore } from '../src/datastore/index.js';
import { isTesseraError } from '../src/lib/errors.js';
import { run } from '../src/lib/exec.js';
import { calicoNodeStatusFrom, parseBirdProtocols, startExternalRouter } from '../src/bgp/index.js';
import { nodeStatusVerb, type NodeStatusDeps } from '../src/cli/commands/node.js';

const realBirdc: NodeStatusDeps['birdc'] = async (socket, ...args) => {
  const r = await run(['birdc', '-s', socket, ...args], { check: false });
  return r.code === 0 && r.stdout.includes('BIRD') ? r.stdout : undefined;
};

test('without NODE it asks the local BIRD through its socket', { timeout: 30_000 }, async (t) => {
  const ns = `tsr-${randomBytes(3).toString('hex')}-rt`;
  const dir = await mkdtemp(join(tmpdir(), 'tsr-bgp-status-'));
  await run(['ip', 'netns', 'add', ns]);
  let router: Awaited<ReturnType<typeof startExternalRouter>> | undefined;
  t.after(async () => {
    // Stop BIRD before its directory (and pid file) goes away.
    await router?.stop();
    await run(['ip', 'netns', 'del', ns], { check: false });
    await rm(dir, { recursive: true, force: true });
  });
  await run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
  router = await startExternalRouter({
    netns: ns,
    asNumber: 65000,
    routerId: '10.9.9.9',
    neighbors: [{ address: '10.9.9.1', asNumber: 64512 }],
    configDir: dir,
  });
  let out = '';
  const deps: NodeStatusDeps = {
    out: (s) => (out += s),
    env: { TESSERA_BIRD_SOCKET: router.socket },
    readStatus: async () => undefined,
    birdc: realBirdc,
  };
  assert.equal(await nodeStatusVerb({}, deps), 0);
  assert.match(out, /BIRD 2\.\d+\.\d+ is running \(router id 10\.9\.9\.9\)/);
  assert.match(out, /\| PEER ADDRESS \| PEER TYPE \| STATE +\| SINCE +\| INFO +\|/);
  assert.match(out, /\| 10\.9\.9\.1 +\| global +\| start +\| \S+ +\| (Active|Connect|Idle)/);
  // An explicit --bird-socket beats the environment; a dead socket is a clear error.
  await assert.rejects(nodeStatusVerb({ birdSocket: join(dir, 'nope.ctl') }, deps), (e: unknown) => {
    assert.ok(isTesseraError(e, 'unavailable'));
    assert.match((e as Error).message, /cannot reach BIRD on ".*nope\.ctl"/);
    return true;
  });
});

test('with NODE it reads the published CalicoNodeStatus from the datastore', async () => {
  const store = new ResourceStore(new MemoryBackend());
  const info = lookupKind('CalicoNodeStatus')!;
  const sample =
    'Mesh_10_0_0_2 BGP        ---        up     22:33:37.146  Established\nNode_10_0_0_9 BGP ---  start  22:33:41.697  Active        Socket: Connection refused\n';
  await store.create({
    apiVersion: info.apiVersion,
    kind: 'CalicoNodeStatus',
    metadata: { name: 'n1' },
    spec: { node: 'n1', classes: ['BGP'], updatePeriodSeconds: 5 },
    status: calicoNodeStatusFrom(parseBirdProtocols(sample), undefined, '2026-01-01T00:00:00.000Z'),
  });
  let out = '';
  const deps: NodeStatusDeps = {
    out: (s) => (out += s),
    env: {},
    readStatus: (n) => store.get(info, n),
    birdc: async () => undefined,
  };
  assert.equal(await nodeStatusVerb({ node: 'n1' }, deps), 0);
  assert.match(out, /Node "n1" BGP status \(as of 2026-01-01T00:00:00\.000Z\)/);
  assert.match(out, /\| 10\.0\.0\.2 +\| node-to-node mesh \| up +\| 22:33:37\.146 \| Established \|/);
  assert.match(out, /\| 10\.0\.0\.9 +\| node specific +\| start \| 22:33:41\.697 \| Active +\|/);
  await assert.rejects(nodeStatusVerb({ node: 'n2' }, deps), /no BGP status for node "n2"/);
});
