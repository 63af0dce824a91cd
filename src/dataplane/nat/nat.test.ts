import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderNatTable } from './nat.js';

test('masquerades only natOutgoing pools, only towards destinations outside every pool', () => {
  const t = renderNatTable({
    natPools: ['10.244.0.0/16'],
    allPools: ['10.244.0.0/16', '10.250.0.0/16', 'fd00::/56'],
    vxlan: false,
  });
  assert.match(t, /set nat4 \{ type ipv4_addr; flags interval; elements = \{ 10\.244\.0\.0\/16 \}; \}/);
  assert.match(
    t,
    /set pools4 \{ type ipv4_addr; flags interval; elements = \{ 10\.244\.0\.0\/16, 10\.250\.0\.0\/16 \}; \}/,
  );
  assert.match(
    t,
    /set nat6 \{ type ipv6_addr; flags interval; \}/,
    'an empty set has no elements clause (nft rejects "{ }")',
  );
  assert.match(t, /ip saddr @nat4 ip daddr != @pools4 masquerade/);
});

test('the VXLAN underlay is not connection-tracked', () => {
  const t = renderNatTable({ natPools: [], allPools: [], vxlan: true });
  assert.match(t, /hook prerouting priority raw;[^}]*udp dport 4789 notrack/);
  assert.match(t, /hook output priority raw;[^}]*udp dport 4789 notrack/);
});

test('no base chain that is not needed: every hooked chain costs every packet', () => {
  const none = renderNatTable({ natPools: [], allPools: ['10.244.0.0/16'], vxlan: false });
  assert.doesNotMatch(none, /chain|hook/, 'no natOutgoing pool and no VTEP: sets only, no hooks');
  assert.match(none, /set pools4 \{[^}]*10\.244\.0\.0\/16/);
  const natOnly = renderNatTable({ natPools: ['10.244.0.0/16'], allPools: ['10.244.0.0/16'], vxlan: false });
  assert.match(natOnly, /type nat hook postrouting/);
  assert.doesNotMatch(natOnly, /notrack/);
  const vxlanOnly = renderNatTable({ natPools: [], allPools: ['10.244.0.0/16'], vxlan: true });
  assert.doesNotMatch(vxlanOnly, /type nat|masquerade/);
  assert.match(vxlanOnly, /notrack/);
});
