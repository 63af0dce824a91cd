import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyPatch, jsonPatch, mergePatch, PatchError, patchTypeOf, strategicMergePatch, type Json } from './patch.js';

const pod: Json = {
  metadata: { name: 'web', labels: { app: 'web', tier: 'front' }, annotations: { a: '1' } },
  spec: {
    containers: [
      { name: 'server', image: 'x', ports: [{ containerPort: 80 }] },
      { name: 'side', image: 'y' },
    ],
    nodeName: 'node-1',
  },
};

test('merge patch: maps merge, null deletes, lists replace', () => {
  const out = mergePatch(pod, {
    metadata: { labels: { tier: null, team: 'a' } },
    spec: { containers: [{ name: 'only' }] },
  }) as Record<string, any>;
  assert.deepEqual(out.metadata.labels, { app: 'web', team: 'a' });
  assert.deepEqual(out.metadata.annotations, { a: '1' });
  assert.deepEqual(out.spec.containers, [{ name: 'only' }]);
  assert.deepEqual(mergePatch(pod, 'x'), 'x');
});

test('strategic merge patch: labels/annotations merge, lists merge by key, directives honoured', () => {
  const out = strategicMergePatch(pod, {
    metadata: { labels: { tier: null, team: 'a' }, annotations: { b: '2' } },
    spec: {
      '$setElementOrder/containers': [{ name: 'server' }, { name: 'side' }],
      containers: [
        { name: 'side', image: 'z' },
        { name: 'new', image: 'n' },
        { name: 'server', $patch: 'delete' },
      ],
    },
  }) as Record<string, any>;
  assert.deepEqual(out.metadata.labels, { app: 'web', team: 'a' });
  assert.deepEqual(out.metadata.annotations, { a: '1', b: '2' });
  assert.deepEqual(out.spec.containers, [
    { name: 'side', image: 'z' },
    { name: 'new', image: 'n' },
  ]);
  assert.equal(out.spec['$setElementOrder/containers'], undefined);
  // a list without a merge key (NetworkPolicy ingress) is replaced, as kubectl apply expects
  const np = strategicMergePatch(
    { spec: { ingress: [{ from: [1] }, { from: [2] }] } },
    { spec: { ingress: [{ from: [3] }] } },
  ) as Record<string, any>;
  assert.deepEqual(np.spec.ingress, [{ from: [3] }]);
  const fin = strategicMergePatch(
    { metadata: { finalizers: ['a', 'b'] } },
    { metadata: { '$deleteFromPrimitiveList/finalizers': ['a'] } },
  ) as Record<string, any>;
  assert.deepEqual(fin.metadata.finalizers, ['b']);
  const repl = strategicMergePatch({ spec: { x: 1, y: 2 } }, { spec: { $patch: 'replace', z: 3 } }) as Record<
    string,
    any
  >;
  assert.deepEqual(repl.spec, { z: 3 });
});

test('json patch: add/replace/remove/move/copy/test, escaped pointers, errors', () => {
  const out = jsonPatch(pod, [
    { op: 'add', path: '/metadata/labels/example.com~1team', value: 'a' },
    { op: 'replace', path: '/spec/nodeName', value: 'node-2' },
    { op: 'remove', path: '/metadata/annotations/a' },
    { op: 'add', path: '/spec/containers/-', value: { name: 'last' } },
    { op: 'copy', from: '/spec/nodeName', path: '/metadata/labels/node' },
    { op: 'move', from: '/metadata/labels/tier', path: '/metadata/labels/level' },
    { op: 'test', path: '/spec/containers/2/name', value: 'last' },
  ]) as Record<string, any>;
  assert.deepEqual(out.metadata.labels, { app: 'web', 'example.com/team': 'a', node: 'node-2', level: 'front' });
  assert.deepEqual(out.metadata.annotations, {});
  assert.equal(out.spec.containers.length, 3);
  assert.equal((pod as any).spec.nodeName, 'node-1', 'the input is not mutated');
  assert.throws(() => jsonPatch(pod, [{ op: 'test', path: '/spec/nodeName', value: 'other' }]), PatchError);
  assert.throws(() => jsonPatch(pod, [{ op: 'remove', path: '/nope' }]), /does not exist/);
  assert.throws(() => jsonPatch(pod, { op: 'add' }), /must be an array/);
  assert.throws(() => jsonPatch(pod, [{ op: 'frob', path: '/x' }]), /unknown op "frob"/);
});

test('patch content types', () => {
  assert.equal(patchTypeOf('application/merge-patch+json'), 'merge');
  assert.equal(patchTypeOf('application/strategic-merge-patch+json; charset=utf-8'), 'strategic');
  assert.equal(patchTypeOf('application/json-patch+json'), 'json');
  assert.equal(patchTypeOf('application/apply-patch+yaml'), undefined);
  assert.deepEqual(applyPatch('merge', { a: 1 }, { b: 2 }), { a: 1, b: 2 });
});
