import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffVtepPeers, parseFdb, parseNeigh, vtepMacFor } from './diff.js';

test('diff adds missing peers and removes stale ones', () => {
  const fdb = parseFdb(
    JSON.stringify([
      { mac: '66:00:00:00:00:02', dst: '10.0.0.2' },
      { mac: '66:00:00:00:00:09', dst: '10.0.0.9' },
      { mac: '00:00:00:00:00:00', dst: '10.0.0.1' },
    ]),
  );
  const neigh = parseNeigh(JSON.stringify([{ dst: '10.244.9.0', lladdr: '66:00:00:00:00:09' }]));
  const d = diffVtepPeers(
    'tessera.vxlan',
    [
      { node: 'n2', family: 4, nodeIp: '10.0.0.2', tunnelIp: '10.244.1.0', mac: '66:00:00:00:00:02' },
      { node: 'n3', family: 4, nodeIp: '10.0.1.3', tunnelIp: '10.244.2.0', mac: '66:00:00:00:00:03' },
    ],
    fdb,
    neigh,
  );
  assert.deepEqual(d.bridgeLines, [
    'fdb del 66:00:00:00:00:09 dev tessera.vxlan dst 10.0.0.9',
    'fdb replace 66:00:00:00:00:03 dev tessera.vxlan dst 10.0.1.3 self permanent',
  ]);
  assert.deepEqual(d.ipLines, [
    'neigh del 10.244.9.0 dev tessera.vxlan',
    'neigh replace 10.244.1.0 lladdr 66:00:00:00:00:02 dev tessera.vxlan nud permanent',
    'neigh replace 10.244.2.0 lladdr 66:00:00:00:00:03 dev tessera.vxlan nud permanent',
  ]);
});

test('VTEP MACs are stable, unicast and locally administered', () => {
  const h = (s: string) => Buffer.from(s.padEnd(8, 'x')).toString('hex');
  const a = vtepMacFor('node-1', 4, h);
  assert.equal(a, vtepMacFor('node-1', 4, h));
  assert.match(a, /^66(:[0-9a-f]{2}){5}$/);
});
