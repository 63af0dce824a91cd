import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  netnsBelongsTo,
  parseLabOptions,
  parseLabels,
  parsePodRef,
  parsePorts,
  pickNode,
  planLab,
  podMtu,
  podNetnsName,
  poolModes,
  MAX_NETNS_NAME,
} from './plan.js';

describe('parseLabOptions', () => {
  test('defaults: 3 nodes, 1 subnet, vxlan-crosssubnet, agent routing, 1 etcd member', () => {
    const r = parseLabOptions({});
    assert.deepEqual(r.options, {
      name: 'lab',
      nodes: 3,
      subnets: 1,
      encapsulation: 'vxlan-crosssubnet',
      routing: 'agent',
      ipv6: false,
      etcdMembers: 1,
    });
  });

  test('reports every bad flag, quoting the value', () => {
    const r = parseLabOptions({
      name: 'Bad_Name',
      nodes: '0',
      encapsulation: 'gre',
      routing: 'ospf',
      etcdMembers: '2',
    });
    assert.equal(r.options, undefined);
    assert.deepEqual(
      r.problems.map((p) => p.path),
      ['--name', '--nodes', '--encapsulation', '--routing', '--etcd-members'],
    );
    assert.match(r.problems[1]!.message, /"0"/);
    assert.match(r.problems[2]!.message, /"gre"/);
  });

  test('rejects non-integers and more subnets than nodes', () => {
    assert.equal(parseLabOptions({ nodes: '2.5' }).problems[0]?.path, '--nodes');
    assert.equal(parseLabOptions({ nodes: '2', subnets: '3' }).problems[0]?.path, '--subnets');
    assert.equal(parseLabOptions({ name: 'a-' }).problems[0]?.path, '--name');
    assert.ok(parseLabOptions({ name: 'a' }).options);
  });
});

describe('planLab', () => {
  test('host i goes to subnet (i-1) mod K with the subnet gateway; a router only when K > 1', () => {
    const p = planLab(parseLabOptions({ name: 'l', nodes: 5, subnets: 2 }).options!);
    assert.equal(p.routerNetns, 'l-router');
    assert.deepEqual(
      p.nodes.map((n) => [n.name, n.netns, n.cidr4, n.gateway4, n.fabricIf]),
      [
        ['node-1', 'l-node-1', '10.240.0.10/24', '10.240.0.1', 'h1'],
        ['node-2', 'l-node-2', '10.240.1.10/24', '10.240.1.1', 'h2'],
        ['node-3', 'l-node-3', '10.240.0.11/24', '10.240.0.1', 'h3'],
        ['node-4', 'l-node-4', '10.240.1.11/24', '10.240.1.1', 'h4'],
        ['node-5', 'l-node-5', '10.240.0.12/24', '10.240.0.1', 'h5'],
      ],
    );
    assert.equal(planLab(parseLabOptions({ name: 'l', nodes: 2 }).options!).routerNetns, undefined);
  });

  test('dual-stack plans canonical IPv6 addresses and a v6 pool', () => {
    const p = planLab(parseLabOptions({ name: 'l', nodes: 2, subnets: 2, ipv6: true }).options!);
    assert.deepEqual(
      p.nodes.map((n) => [n.cidr6, n.gateway6]),
      [
        ['fd00:240::a/64', 'fd00:240::1'],
        ['fd00:240:0:1::a/64', 'fd00:240:0:1::1'],
      ],
    );
    assert.equal(p.subnets[1]!.cidr6, 'fd00:240:0:1::/64');
    assert.ok(p.pool6);
  });

  test('pool modes and MTU follow the encapsulation', () => {
    assert.deepEqual(poolModes('vxlan-crosssubnet'), { vxlanMode: 'CrossSubnet', ipipMode: 'Never' });
    assert.deepEqual(poolModes('ipip'), { vxlanMode: 'Never', ipipMode: 'Always' });
    assert.deepEqual(poolModes('ipip-crosssubnet'), { vxlanMode: 'Never', ipipMode: 'CrossSubnet' });
    assert.deepEqual(poolModes('none'), { vxlanMode: 'Never', ipipMode: 'Never' });
    assert.equal(podMtu('vxlan', false), 1450);
    assert.equal(podMtu('none', false), 1500);
  });
});

describe('names', () => {
  test('pod netns names are readable when short and hashed (stable, distinct) when long', () => {
    assert.equal(podNetnsName('lab', 'x', 'a'), 'lab-pod-x-a');
    const long1 = podNetnsName('lab', 'n'.repeat(40), 'a'.repeat(40));
    const long2 = podNetnsName('lab', 'n'.repeat(40), 'b'.repeat(40));
    assert.ok(long1.length <= MAX_NETNS_NAME && long1.startsWith('lab-pod-'));
    assert.notEqual(long1, long2);
    assert.equal(long1, podNetnsName('lab', 'n'.repeat(40), 'a'.repeat(40)));
  });

  test('a lab sweep does not take namespaces of a lab whose name extends it', () => {
    assert.equal(netnsBelongsTo('a-node-1', 'a', ['a', 'a-b']), true);
    assert.equal(netnsBelongsTo('a-b-node-1', 'a', ['a', 'a-b']), false);
    assert.equal(netnsBelongsTo('a-b-node-1', 'a', ['a']), true);
    assert.equal(netnsBelongsTo('ab-node-1', 'a', []), false);
  });

  test('pod refs are NAMESPACE/NAME with DNS labels', () => {
    assert.deepEqual(parsePodRef('x/a-1'), { namespace: 'x', name: 'a-1' });
    assert.ok('error' in parsePodRef('a'));
    assert.ok('error' in parsePodRef('X/a'));
    assert.ok('error' in parsePodRef('x/a/b'));
  });
});

describe('flag parsing', () => {
  test('ports', () => {
    assert.deepEqual(parsePorts('web:TCP:8080,dns:udp:53').ports, [
      { name: 'web', protocol: 'TCP', port: 8080 },
      { name: 'dns', protocol: 'UDP', port: 53 },
    ]);
    assert.match(parsePorts('web:TCP:0').error!, /"web:TCP:0"/);
    assert.match(parsePorts('a:TCP:1,a:UDP:2').error!, /used twice/);
    assert.match(parsePorts('a:TCP:1,b:TCP:1').error!, /listed twice/);
  });

  test('labels', () => {
    assert.deepEqual(parseLabels('app=web, tier=front').labels, { app: 'web', tier: 'front' });
    assert.match(parseLabels('app').error!, /KEY=VALUE/);
    assert.match(parseLabels('app=-x').error!, /"-x"/);
  });

  test('pickNode spreads round-robin and fills gaps left by deletes', () => {
    const nodes = ['node-1', 'node-2', 'node-3'];
    assert.equal(pickNode(nodes, {}), 'node-1');
    assert.equal(pickNode(nodes, { 'node-1': 1 }), 'node-2');
    assert.equal(pickNode(nodes, { 'node-1': 1, 'node-2': 1 }), 'node-3');
    assert.equal(pickNode(nodes, { 'node-1': 2, 'node-2': 1, 'node-3': 2 }), 'node-2');
    assert.equal(pickNode([], {}), undefined);
  });
});
