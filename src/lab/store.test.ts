import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLabState, readPods, removePod, updateLabState, withLabLock, writeLabState, writePod } from './store.js';
import { newLabState, withNetns, type PodState } from './state.js';
import { parseLabOptions } from './plan.js';

const options = parseLabOptions({ name: 'l' }).options!;

test('concurrent read-modify-write under the lab lock loses no update', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-labstore-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeLabState(newLabState(options, dir, `${dir}/cni-bin`, ''));
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      updateLabState(dir, async (s) => {
        await new Promise((r) => setTimeout(r, 1));
        return withNetns(s, `ns-${i}`);
      }),
    ),
  );
  assert.equal(readLabState(dir)!.netns.length, 20);
});

test('a lock left by a dead process is taken over', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-labstore-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'lock'), '999999999');
  assert.equal(await withLabLock(dir, () => 'got it', 2000), 'got it');
});

test('pod files round-trip and removal is idempotent', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-labstore-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pod: PodState = {
    namespace: 'x',
    name: 'a',
    node: 'node-1',
    netns: 'l-pod-x-a',
    containerId: 'c',
    ips: [],
    labels: {},
    serviceAccount: 'default',
    ports: [],
    servers: [],
    phase: 'creating',
  };
  writePod(dir, pod);
  assert.deepEqual(readPods(dir), [pod]);
  removePod(dir, 'x', 'a');
  removePod(dir, 'x', 'a');
  assert.deepEqual(readPods(dir), []);
  assert.equal(readLabState(join(dir, 'missing')), undefined);
});
