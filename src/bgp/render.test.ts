import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { renderBirdConfig } from './render.js';
import { SCENARIOS, node, peer, pool } from './testdata/scenarios.js';

const golden = (name: string) => new URL(`./testdata/${name}.conf`, import.meta.url);

for (const [name, input] of Object.entries(SCENARIOS)) {
  test(`golden: ${name}`, () => {
    const out = renderBirdConfig(input);
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(golden(name), out.text);
    assert.equal(out.text, readFileSync(golden(name), 'utf8'));
    assert.deepEqual(out.problems, []);
  });
}

test('rendering is deterministic under input reordering', () => {
  const input = SCENARIOS['route-reflector']!;
  const a = renderBirdConfig(input).text;
  const b = renderBirdConfig({
    ...input,
    nodes: [...input.nodes].reverse(),
    blocks: [...input.blocks].reverse(),
    peers: [...input.peers].reverse(),
  }).text;
  assert.equal(a, b);
});

test('mesh: the higher address is passive, the lower one connects', () => {
  const n1 = renderBirdConfig(SCENARIOS.mesh!);
  const n3 = renderBirdConfig({ ...SCENARIOS.mesh!, nodeName: 'n3' });
  assert.deepEqual(
    n1.peers.map((p) => [p.protocol, p.passive, p.type]),
    [
      ['Mesh_10_0_0_2', false, 'node-to-node mesh'],
      ['Mesh_10_0_0_3', false, 'node-to-node mesh'],
    ],
  );
  assert.ok(n3.peers.every((p) => p.passive));
});

test('exports exactly the confirmed affine blocks and borrowed /32s', () => {
  const t = renderBirdConfig(SCENARIOS['borrowed-32']!).text;
  const routes = [...t.matchAll(/route (\S+) blackhole/g)].map((m) => m[1]);
  assert.deepEqual(routes, ['10.244.0.0/26', '10.244.0.70/32', '10.244.0.128/26']);
});

test('never originates a disableBGPExport pool and rejects it on re-export', () => {
  const t = renderBirdConfig(SCENARIOS['disable-bgp-export']!).text;
  assert.doesNotMatch(t, /route 10\.250\./);
  assert.match(t, /if net ~ \[ 10\.250\.0\.0\/16\+ \] then reject;/);
  assert.match(t, /route 10\.251\.0\.0\/26 blackhole/);
});

test('route reflector: clients get rr client, the other reflector does not; clients peer only with reflectors', () => {
  const rr = renderBirdConfig(SCENARIOS['route-reflector']!);
  assert.deepEqual(
    rr.peers.map((p) => [p.address, p.routeReflectorClient]),
    [
      ['10.0.0.2', false],
      ['10.0.0.3', true],
      ['10.0.0.4', true],
    ],
  );
  const client = renderBirdConfig(SCENARIOS['route-reflector-client']!);
  assert.deepEqual(
    client.peers.map((p) => p.address),
    ['10.0.0.1', '10.0.0.2'],
  );
  assert.ok(client.peers.every((p) => !p.routeReflectorClient && p.type === 'node specific'));
});

test('a per-node AS makes mesh sessions eBGP', () => {
  const out = renderBirdConfig(SCENARIOS['per-node-as']!);
  assert.match(out.text, /local 10\.0\.0\.1 as 65001;\n  neighbor 10\.0\.0\.2 as 64512;/);
  assert.match(out.text, /local 10\.0\.0\.1 as 65001;\n  neighbor 10\.0\.0\.3 as 65001;/);
});

test('bad peers are skipped with a problem that quotes the value', () => {
  const out = renderBirdConfig({
    ...SCENARIOS.mesh!,
    peers: [
      peer('bad-ip', { peerIP: '10.0.0.300', asNumber: 65000 }),
      peer('bad-as', { peerIP: '10.0.0.9', asNumber: 4294967296 }),
      peer('no-secret', { peerIP: '10.0.0.10', asNumber: 65000, password: { secretKeyRef: { name: 's', key: 'k' } } }),
      peer('no-filter', { peerIP: '10.0.0.11', asNumber: 65000, filters: ['nope'] }),
    ],
  });
  assert.equal(out.peers.length, 2);
  assert.equal(out.problems.length, 4);
  assert.match(out.problems.join('\n'), /"10\.0\.0\.300"/);
  assert.match(out.problems.join('\n'), /"4294967296"/);
  assert.match(out.problems.join('\n'), /secret "s\/k" not found/);
  assert.match(out.problems.join('\n'), /BGPFilter "nope" not found/);
});

test('an explicit BGPPeer replaces the mesh session to the same address', () => {
  const out = renderBirdConfig({ ...SCENARIOS.mesh!, peers: [peer('p', { peerIP: '10.0.0.2', asNumber: 64512 })] });
  assert.deepEqual(
    out.peers.map((p) => p.protocol),
    ['Global_10_0_0_2', 'Mesh_10_0_0_3'],
  );
});

test('a node without an address renders no sessions and says why', () => {
  const out = renderBirdConfig({
    ...SCENARIOS.mesh!,
    nodes: [node('n2', '10.0.0.2')],
    pools: [pool('p', '10.244.0.0/16')],
  });
  assert.equal(out.peers.length, 0);
  assert.match(out.problems[0]!, /Node "n1": no spec\.bgp\.ipv4Address/);
});
