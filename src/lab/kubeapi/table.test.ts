import { test } from 'node:test';
import assert from 'node:assert/strict';
import { humanDuration, renderTable, wantsTable } from './table.js';

const now = Date.parse('2026-01-01T01:00:00Z');

test('pod table: the columns and cells of kubectl get pods (-o wide)', () => {
  const pod = {
    metadata: { name: 'web', namespace: 'shop', creationTimestamp: '2026-01-01T00:55:00Z' },
    spec: { nodeName: 'node-1', containers: [{ name: 'server' }] },
    status: { phase: 'Running', podIP: '10.0.0.5', containerStatuses: [{ ready: true, restartCount: 2 }] },
  };
  const t = renderTable('Pod', [pod], { nowMs: now });
  assert.deepEqual(
    t.columnDefinitions.map((c) => [c.name, c.priority]),
    [
      ['Name', 0],
      ['Ready', 0],
      ['Status', 0],
      ['Restarts', 0],
      ['Age', 0],
      ['IP', 1],
      ['Node', 1],
      ['Nominated Node', 1],
      ['Readiness Gates', 1],
    ],
  );
  assert.deepEqual(t.rows[0]!.cells, ['web', '1/1', 'Running', 2, '5m', '10.0.0.5', 'node-1', '<none>', '<none>']);
  assert.deepEqual(t.rows[0]!.object, {
    kind: 'PartialObjectMetadata',
    apiVersion: 'meta.k8s.io/v1',
    metadata: pod.metadata,
  });
  const pending = renderTable('Pod', [{ metadata: { name: 'p' }, spec: { containers: [{}, {}] } }], {
    nowMs: now,
    includeObject: 'None',
  });
  assert.deepEqual(pending.rows[0]!.cells.slice(0, 3), ['p', '0/2', 'Pending']);
  assert.equal(pending.rows[0]!.object, undefined);
});

test('node, namespace, networkpolicy and fallback tables', () => {
  const node = {
    metadata: { name: 'node-1', labels: { 'node-role.kubernetes.io/worker': '' } },
    spec: { unschedulable: true },
    status: {
      conditions: [{ type: 'Ready', status: 'True' }],
      addresses: [{ type: 'InternalIP', address: '10.240.0.10' }],
      nodeInfo: { kubeletVersion: 'v1.22.3' },
    },
  };
  const n = renderTable('Node', [node], { nowMs: now });
  assert.deepEqual(n.rows[0]!.cells.slice(0, 6), [
    'node-1',
    'Ready,SchedulingDisabled',
    'worker',
    '<unknown>',
    'v1.22.3',
    '10.240.0.10',
  ]);
  const np = renderTable(
    'NetworkPolicy',
    [
      {
        metadata: { name: 'p' },
        spec: {
          podSelector: {
            matchLabels: { app: 'db' },
            matchExpressions: [{ key: 't', operator: 'In', values: ['a', 'b'] }],
          },
        },
      },
    ],
    { nowMs: now },
  );
  assert.deepEqual(np.rows[0]!.cells.slice(0, 2), ['p', 'app=db,t in (a,b)']);
  const ns = renderTable('Namespace', [{ metadata: { name: 'shop' }, status: { phase: 'Active' } }], { nowMs: now });
  assert.deepEqual(ns.rows[0]!.cells.slice(0, 2), ['shop', 'Active']);
  assert.deepEqual(
    renderTable('Widget', [{ metadata: { name: 'w' } }], { nowMs: now }).columnDefinitions.map((c) => c.name),
    ['Name', 'Age'],
  );
});

test('humanDuration matches Kubernetes rounding', () => {
  const s = 1000;
  assert.equal(humanDuration(5 * s), '5s');
  assert.equal(humanDuration(119 * s), '119s');
  assert.equal(humanDuration(150 * s), '2m30s');
  assert.equal(humanDuration(600 * s), '10m');
  assert.equal(humanDuration(4 * 3600 * s + 60 * s), '4h1m');
  assert.equal(humanDuration(30 * 3600 * s), '30h');
  assert.equal(humanDuration(3 * 86400 * s), '3d');
  assert.equal(humanDuration(400 * 86400 * s), '400d');
});

test('wantsTable recognises kubectl get Accept headers only', () => {
  assert.equal(
    wantsTable(
      'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json',
    ),
    true,
  );
  assert.equal(wantsTable('application/json'), false);
  assert.equal(wantsTable(undefined), false);
});
