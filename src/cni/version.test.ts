import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatResult, parsePrevResult } from './version.js';

const result = {
  interfaces: [
    { name: 'tsr1', mac: 'ee:ee:ee:ee:ee:ee' },
    { name: 'eth0', mac: '02:00:00:00:00:01', sandbox: '/var/run/netns/p' },
  ],
  ips: [
    { address: '10.0.0.5/32', interface: 1 },
    { address: 'fd00::5/128', interface: 1 },
  ],
  routes: [{ dst: '0.0.0.0/0', gw: '169.254.1.1' }],
};

test('1.0.0 results carry no per-IP version', () => {
  const out = formatResult(result, '1.0.0') as { cniVersion: string; ips: Record<string, unknown>[] };
  assert.equal(out.cniVersion, '1.0.0');
  assert.equal(out.ips[0]?.['version'], undefined);
});

test('0.3.x / 0.4.0 results carry version "4" / "6" per IP', () => {
  for (const v of ['0.3.0', '0.3.1', '0.4.0'] as const) {
    const out = formatResult(result, v) as { cniVersion: string; ips: Record<string, unknown>[] };
    assert.equal(out.cniVersion, v);
    assert.deepEqual(
      out.ips.map((i) => i['version']),
      ['4', '6'],
    );
  }
});

test('prevResult of any version reads back', () => {
  const back = parsePrevResult(formatResult(result, '0.4.0'));
  assert.deepEqual(
    back?.ips.map((i) => i.address),
    ['10.0.0.5/32', 'fd00::5/128'],
  );
  assert.equal(parsePrevResult({ ips: 'x' }), undefined);
  assert.equal(parsePrevResult(undefined), undefined);
});
