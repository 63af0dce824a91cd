/**
 * Real nft in a private network namespace: full load, incremental diff, drift repair.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { run } from '../src/lib/exec.js';
import { NftReconciler, renderNft, fullNftScript, diffNft } from '../src/dataplane/nft/index.js';
import { fixtureCalculator } from '../src/dataplane/nft/fixture.js';

const ns = `tsr-${randomBytes(3).toString('hex')}-nft`;
await run(['ip', 'netns', 'add', ns]);
after(async () => {
  await run(['ip', 'netns', 'del', ns], { check: false });
});

test('nft -c accepts the full script of the fixture', async () => {
  const script = fullNftScript(renderNft(fixtureCalculator().resolve()));
  await run(['nft', '-c', '-f', '-'], { netns: ns, input: script });
});

test('apply full, apply a diff with only the changes, repair drift after a flush', async () => {
  const scripts: string[] = [];
  const rec = new NftReconciler({ netns: ns, onApply: (r) => scripts.push(r.mode) });
  const calc = fixtureCalculator();
  const s1 = renderNft(calc.resolve());
  const r1 = await rec.apply(s1);
  assert.equal(r1.mode, 'full');
  assert.deepEqual(await rec.drift(), []);

  calc.apply({
    kind: 'WorkloadEndpoint',
    key: 'x/c',
    value: {
      name: 'c',
      namespace: 'x',
      node: 'n1',
      interfaceName: 'tsrc',
      ipNetworks: ['10.0.0.3/32'],
      labels: { pod: 'b' },
    },
  });
  const s2 = renderNft(calc.resolve());
  const expected = diffNft(s1, s2).script;
  await run(['nft', '-c', '-f', '-'], { netns: ns, input: expected });
  const r2 = await rec.apply(s2);
  assert.equal(r2.mode, 'diff');
  assert.equal(r2.script, expected);
  assert.doesNotMatch(r2.script, /delete table|flush chain/);
  assert.ok(r2.script.split('\n').length < fullNftScript(s2).split('\n').length / 2);
  assert.deepEqual(await rec.drift(), []);
  const listed = (await run(['nft', 'list', 'set', 'inet', 'tessera', 'wep_src4'], { netns: ns })).stdout;
  assert.match(listed, /"tsrc" \. 10\.0\.0\.3/);

  assert.equal((await rec.apply(s2)).mode, 'noop');

  await run(['nft', 'flush', 'table', 'inet', 'tessera'], { netns: ns });
  const drift = await rec.checkDrift();
  assert.ok(drift.length > 0);
  assert.deepEqual(await rec.drift(), []);

  await run(['nft', 'add', 'rule', 'inet', 'tessera', 'forward', 'accept'], { netns: ns });
  assert.ok((await rec.checkDrift()).some((d) => d.includes('chain forward')));
  assert.deepEqual(await rec.drift(), []);

  await run(['nft', 'delete', 'table', 'inet', 'tessera'], { netns: ns });
  assert.deepEqual(await rec.checkDrift(), ['table inet tessera missing']);
  assert.deepEqual(await rec.drift(), []);
  assert.deepEqual(scripts, ['full', 'diff', 'full', 'full', 'full']);

  await rec.remove();
  const tables = (await run(['nft', 'list', 'tables'], { netns: ns })).stdout;
  assert.doesNotMatch(tables, /tessera/);
});
