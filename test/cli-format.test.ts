/** Output formatting: aligned tables, kind names for -o name, lists vs single objects. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { lookupKind, type Resource } from '../src/api/index.js';
import { cliKindName, formatResources, renderTable } from '../src/cli/format.js';
import { mergePatch } from '../src/cli/commands/patch.js';
import { parseLabelChanges } from '../src/cli/commands/label.js';

test('renderTable aligns columns with 3 spaces and no trailing whitespace', () => {
  assert.equal(
    renderTable(
      ['NAME', 'CIDR'],
      [
        ['a', '10.0.0.0/8'],
        ['longer-name', ''],
      ],
    ),
    'NAME          CIDR\na             10.0.0.0/8\nlonger-name\n',
  );
});

test('cliKindName round-trips through lookupKind for every kind', async () => {
  const { KINDS } = await import('../src/api/index.js');
  for (const info of KINDS) assert.equal(lookupKind(cliKindName(info)), info, info.kind);
  assert.equal(cliKindName(lookupKind('knp')!), 'kubernetesnetworkpolicy');
});

const pool = (name: string): Resource => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'IPPool',
  metadata: { name },
  spec: { cidr: '10.0.0.0/16', natOutgoing: true },
});
const ns: Resource = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x', labels: { a: 'b' } } };

test('mixed kinds make one table each; yaml is a List unless single', () => {
  const out = formatResources([pool('p'), ns], { format: 'table' });
  assert.equal(out, 'NAME   CIDR          SELECTOR\np      10.0.0.0/16   all()\n\nNAME\nx\n');
  const wide = formatResources([ns], { format: 'wide' });
  assert.equal(wide, 'NAME   LABELS\nx      a=b\n');
  // calicoctl's envelope: a typed list for one kind (even empty), a plain List for mixed kinds.
  assert.equal((parse(formatResources([pool('p')], { format: 'yaml' })) as { kind: string }).kind, 'IPPoolList');
  const empty = parse(formatResources([], { format: 'yaml', kind: lookupKind('ippool')! })) as {
    kind: string;
    apiVersion: string;
  };
  assert.deepEqual([empty.apiVersion, empty.kind], ['projectcalico.org/v3', 'IPPoolList']);
  assert.equal((parse(formatResources([pool('p'), ns], { format: 'yaml' })) as { kind: string }).kind, 'List');
  assert.equal(
    (parse(formatResources([pool('p')], { format: 'yaml', single: true })) as { kind: string }).kind,
    'IPPool',
  );
});

test('mergePatch follows RFC 7386', () => {
  assert.deepEqual(mergePatch({ a: 'b', c: { d: 'e', f: 'g' } }, { a: 'z', c: { f: null } }), {
    a: 'z',
    c: { d: 'e' },
  });
  assert.deepEqual(mergePatch({ a: [1, 2] }, { a: [3] }), { a: [3] });
  assert.deepEqual(mergePatch({ a: 1 }, { b: { c: null } }), { a: 1, b: {} });
  assert.equal(mergePatch({ a: 1 }, 'x'), 'x');
});

test('parseLabelChanges: set, remove, duplicates and garbage', () => {
  assert.deepEqual(parseLabelChanges(['a=1', 'b-', 'example.com/c=']), [
    { op: 'set', key: 'a', value: '1' },
    { op: 'remove', key: 'b' },
    { op: 'set', key: 'example.com/c', value: '' },
  ]);
  assert.throws(() => parseLabelChanges(['a=1', 'a-']), /more than once/);
  assert.throws(() => parseLabelChanges(['a']), /expected key=value or key-/);
  assert.throws(() => parseLabelChanges([]), /at least one/);
});
