import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  canTransition,
  labStatus,
  newLabState,
  nodeStateFromPlan,
  withNetns,
  withNode,
  withPhase,
  withProcess,
  type PodState,
} from './state.js';
import { parseLabOptions, planLab } from './plan.js';

const options = parseLabOptions({ name: 'l', nodes: 2 }).options!;

test('phases: creating -> ready|failed -> deleting; never back', () => {
  let s = newLabState(options, '/d', '/d/cni-bin', '2025-01-01T00:00:00Z');
  assert.equal(s.phase, 'creating');
  s = withPhase(s, 'ready');
  assert.throws(() => withPhase(s, 'creating'));
  s = withPhase(s, 'deleting');
  assert.equal(s.phase, 'deleting');
  assert.equal(canTransition('failed', 'ready'), false);
  assert.equal(withPhase(newLabState(options, '/d', '/c', ''), 'failed', 'boom').error, 'boom');
});

test('records are idempotent and keyed', () => {
  let s = newLabState(options, '/d', '/c', '');
  s = withNetns(withNetns(s, 'l-fabric'), 'l-fabric');
  assert.deepEqual(s.netns, ['l-fabric']);
  s = withProcess(s, { role: 'etcd-keeper', pid: 1 });
  s = withProcess(s, { role: 'etcd-keeper', pid: 2 });
  assert.deepEqual(
    s.processes.map((p) => p.pid),
    [2],
  );
  const plan = planLab(parseLabOptions({ name: 'l', nodes: 10 }).options!);
  for (const n of [...plan.nodes].reverse()) s = withNode(s, nodeStateFromPlan(n, '/d', 9099));
  assert.deepEqual(s.nodes.map((n) => n.name).slice(0, 3), ['node-1', 'node-2', 'node-3']);
  assert.equal(s.nodes[9]!.name, 'node-10');
  assert.equal(s.nodes[0]!.cniConfig, '/d/nodes/node-1/cni/10-tessera.conf');
});

test('status lists pods sorted, nodes with their CNI paths', () => {
  let s = newLabState(options, '/d', '/d/cni-bin', '');
  for (const n of planLab(options).nodes) s = withNode(s, nodeStateFromPlan(n, '/d', 9099));
  const pod = (namespace: string, name: string): PodState => ({
    namespace,
    name,
    node: 'node-1',
    netns: `l-pod-${namespace}-${name}`,
    containerId: 'c',
    ips: ['10.244.0.1'],
    labels: {},
    serviceAccount: 'default',
    ports: [],
    servers: [],
    phase: 'ready',
  });
  const st = labStatus(s, [pod('y', 'a'), pod('x', 'b')], { 'node-1': 'ready' });
  assert.deepEqual(
    st.pods.map((p) => `${p.namespace}/${p.name}`),
    ['x/b', 'y/a'],
  );
  assert.deepEqual(
    st.nodes.map((n) => [n.name, n.cniPath, n.agent]),
    [
      ['node-1', '/d/cni-bin', 'ready'],
      ['node-2', '/d/cni-bin', 'not-ready'],
    ],
  );
});
