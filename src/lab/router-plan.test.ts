import { test } from 'node:test';
import assert from 'node:assert/strict';
import { externalRouterNetns, parseAsNumberText, planExternalRouter } from './router-plan.js';
import type { LabOptions } from './plan.js';
import type { RouterState } from './state.js';

const options: LabOptions = {
  name: 'l',
  nodes: 4,
  subnets: 2,
  encapsulation: 'none',
  routing: 'bgp',
  ipv6: false,
  etcdMembers: 1,
};
const lab = (routers: RouterState[] = [], o: Partial<LabOptions> = {}) => ({
  name: 'l',
  options: { ...options, ...o },
  routers,
});

test('AS numbers: plain and asdot, 1..2^32-1 only', () => {
  assert.equal(parseAsNumberText('65000'), 65000);
  assert.equal(parseAsNumberText(64512), 64512);
  assert.equal(parseAsNumberText('1.10'), 65546);
  assert.equal(parseAsNumberText('4294967295'), 4294967295);
  for (const bad of ['0', '4294967296', '-1', '65000x', '', '1.65536', '1e5'])
    assert.equal(parseAsNumberText(bad), undefined, bad);
});

test('first router of a subnet gets .254, the next .253; names, netns and fabric leg are stable', () => {
  const a = planExternalRouter(lab(), 'tor', { asNumber: '65000', subnet: '1' }).plan!;
  assert.equal(a.ip4, '10.240.1.254');
  assert.equal(a.gateway4, '10.240.1.1');
  assert.equal(a.netns, externalRouterNetns('l', 'tor'));
  assert.equal(a.netns, 'l-rtr-tor');
  assert.equal(a.bridge, 'br1');
  assert.match(a.fabricIf, /^x[0-9a-f]{8}$/);
  assert.deepEqual(planExternalRouter(lab(), 'tor', { asNumber: 65000, subnet: 1 }).plan, a);
  const taken: RouterState = { name: 'tor', netns: a.netns, ips: [a.ip4], kind: 'external', subnet: 1 };
  assert.equal(planExternalRouter(lab([taken]), 'tor2', { asNumber: 65001, subnet: 1 }).plan!.ip4, '10.240.1.253');
  assert.equal(planExternalRouter(lab([taken]), 'tor2', { asNumber: 65001 }).plan!.ip4, '10.240.0.254');
});

test('dual-stack labs give the router an IPv6 leg too', () => {
  const p = planExternalRouter(lab([], { ipv6: true }), 'tor', { asNumber: 65000 }).plan!;
  assert.equal(p.ip6, 'fd00:240::fe');
  assert.equal(p.gateway6, 'fd00:240::1');
});

test('bad input: every problem names its flag and quotes the value', () => {
  const taken: RouterState = { name: 'tor', netns: 'l-rtr-tor', ips: ['10.240.0.254'], kind: 'external', subnet: 0 };
  const cases: [string, { asNumber: string; subnet?: string }, RouterState[], RegExp][] = [
    ['Tor', { asNumber: '1' }, [], /NAME: router name "Tor" is invalid/],
    ['router', { asNumber: '1' }, [], /reserved/],
    ['tor', { asNumber: '1' }, [taken], /already has a router "tor"/],
    ['t', { asNumber: '4294967296' }, [], /--as: AS number "4294967296" is invalid/],
    ['t', { asNumber: '1', subnet: '2' }, [], /--subnet: "2" is invalid: the lab has subnets 0-1/],
  ];
  for (const [name, raw, routers, want] of cases) {
    const r = planExternalRouter(lab(routers), name, raw);
    assert.equal(r.plan, undefined);
    assert.match(r.problems.map((p) => `${p.path}: ${p.message}`).join('\n'), want);
  }
});
