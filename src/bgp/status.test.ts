import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  calicoNodeStatusFrom,
  formatPeerTable,
  parseBirdProtocols,
  parseBirdStatus,
  peersFromCalicoNodeStatus,
} from './status.js';

// Captured from BIRD 2.0.12 (`birdc show protocols all`, trimmed).
const SAMPLE = `BIRD 2.0.12 ready.
Name       Proto      Table      State  Since         Info
device1    Device     ---        up     22:33:35.355  

kernel4    Kernel     master4    up     22:33:35.355  
  Channel ipv4
    State:          UP
tessera_static4 Static     master4    up     22:33:35.355  
Mesh_10_0_0_2 BGP        ---        up     22:33:37.146  Established   
  Description:    mesh node n2
  BGP state:          Established
    Neighbor address: 10.0.0.2
    Neighbor AS:      64512
Global_10_0_0_254_port_1179 BGP        ---        start  22:33:41.697  Active        Received: Administrative shutdown
  BGP state:          Active
    Neighbor address: 10.0.0.254
    Last error:       Received: Administrative shutdown
Node_fd00__5 BGP        ---        start  22:33:41.697  Connect
other_bgp  BGP        ---        up     22:33:37.146  Established
`;

test('parses Tessera BGP sessions, their type from the name prefix, and skips the rest', () => {
  const peers = parseBirdProtocols(SAMPLE);
  assert.deepEqual(
    peers.map((p) => [p.peerAddress, p.family, p.type, p.state, p.since, p.info, p.bgpState]),
    [
      ['10.0.0.2', 4, 'node-to-node mesh', 'up', '22:33:37.146', 'Established', 'Established'],
      ['10.0.0.254', 4, 'global', 'start', '22:33:41.697', 'Active Received: Administrative shutdown', 'Active'],
      ['fd00::5', 6, 'node specific', 'start', '22:33:41.697', 'Connect', 'Connect'],
    ],
  );
});

test('CalicoNodeStatus shape round-trips into the same table rows', () => {
  const peers = parseBirdProtocols(SAMPLE);
  const daemon = parseBirdStatus(
    'BIRD 2.0.12\nRouter ID is 10.0.0.1\nLast reboot on 2026-11-26 22:33:35.355\nDaemon is up and running\n',
  );
  const st = calicoNodeStatusFrom(peers, daemon, '2026-01-01T00:00:00.000Z') as {
    bgp: Record<string, unknown>;
    agent: { birdV4: Record<string, unknown> };
  };
  assert.equal(st.bgp.numberEstablishedV4, 1);
  assert.equal(st.bgp.numberNotEstablishedV4, 1);
  assert.equal(st.bgp.numberNotEstablishedV6, 1);
  assert.deepEqual((st.bgp.peersV4 as unknown[])[0], {
    peerIP: '10.0.0.2',
    type: 'NodeMesh',
    state: 'Established',
    since: '22:33:37.146',
  });
  assert.deepEqual(st.agent.birdV4, {
    state: 'Ready',
    version: '2.0.12',
    routerID: '10.0.0.1',
    lastBootTime: '2026-11-26 22:33:35.355',
  });
  const back = peersFromCalicoNodeStatus(st);
  assert.deepEqual(
    back.map((p) => [p.peerAddress, p.type, p.state, p.bgpState]),
    [
      ['10.0.0.2', 'node-to-node mesh', 'up', 'Established'],
      ['10.0.0.254', 'global', 'start', 'Active'],
      ['fd00::5', 'node specific', 'start', 'Connect'],
    ],
  );
});

test('table has calicoctl columns', () => {
  const t = formatPeerTable(parseBirdProtocols(SAMPLE).slice(0, 1));
  assert.match(t, /\| PEER ADDRESS \| PEER TYPE +\| STATE \| SINCE +\| INFO +\|/);
  assert.match(t, /\| 10\.0\.0\.2 +\| node-to-node mesh \| up +\| 22:33:37\.146 \| Established \|/);
  assert.doesNotMatch(t, /IPv6/);
  assert.match(formatPeerTable([]), /No IPv4 peers found\./);
});
