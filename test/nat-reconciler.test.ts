/**
 * NatReconciler against the kernel, in a private network namespace, through an nftables session
 * shared with the policy reconciler (as the agent runs them): the table is written once, left alone
 * while unchanged, restored on the drift check after someone deletes it, and removed again.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { run } from '../src/lib/exec.js';
import { NAT_TABLE, NatReconciler } from '../src/dataplane/nat/index.js';
import { NftReconciler, NftSession, renderNft } from '../src/dataplane/nft/index.js';
import { fixtureCalculator } from '../src/dataplane/nft/fixture.js';

const ns = `tsr-${randomBytes(3).toString('hex')}-nat`;
await run(['ip', 'netns', 'add', ns]);
const session = new NftSession({ netns: ns });
after(async () => {
  session.close();
  await run(['ip', 'netns', 'del', ns], { check: false });
});

const listNat = async () =>
  (await run(['nft', 'list', 'table', 'inet', NAT_TABLE], { netns: ns, check: false })).stdout;

test('NAT table: written on change, untouched while unchanged, restored after deletion, removed', async () => {
  const nat = new NatReconciler({ session });
  const policy = new NftReconciler({ session });
  await policy.apply(renderNft(fixtureCalculator().resolve()));

  const on = { natPools: ['10.65.0.0/16'], allPools: ['10.65.0.0/16', '10.66.0.0/16'], vxlan: true };
  assert.equal(await nat.apply(on), true);
  const listed = await listNat();
  assert.match(listed, /masquerade/);
  assert.match(listed, /10\.65\.0\.0\/16/);
  assert.match(listed, /udp dport 4789 notrack/);

  assert.equal(await nat.apply(on), false, 'unchanged: no write');
  assert.equal(await nat.apply(on, true), false, 'drift check, table present: no write');

  await run(['nft', 'delete', 'table', 'inet', NAT_TABLE], { netns: ns });
  assert.equal(await nat.apply(on, true), true, 'deleted table restored');
  assert.match(await listNat(), /masquerade/);
  assert.deepEqual(await policy.drift(), [], 'the policy table is untouched by NAT writes');

  assert.equal(await nat.apply({ ...on, natPools: [] }), true, 'natOutgoing off: rewritten');
  const off = await listNat();
  const nat4 = /set nat4 \{[^}]*\}/.exec(off)?.[0] ?? '';
  assert.ok(nat4 && !nat4.includes('elements'), `no pool masquerades any more: ${nat4}`);
  assert.doesNotMatch(off, /type nat hook/, 'no nat chain left to run the NAT hooks on every packet');
  assert.match(off, /udp dport 4789 notrack/);

  assert.equal(await nat.apply({ ...on, natPools: [], vxlan: false }), true, 'VTEP gone: rewritten');
  assert.doesNotMatch(await listNat(), /hook/, 'no base chain at all');

  await nat.remove();
  assert.equal(await listNat(), '');
  await policy.remove();
});
