import { strict as assert } from 'node:assert';
import { describe, test } from 'node:test';
import { isTesseraError, type TesseraError } from '../lib/errors.js';
import { parseManifests } from './index.js';

function parseError(text: string, source?: string): TesseraError {
  try {
    parseManifests(text, source);
  } catch (err) {
    assert.ok(isTesseraError(err, 'validation'), `expected a validation error, got ${String(err)}`);
    return err;
  }
  assert.fail('expected parseManifests to throw');
}

const pool = (name: string) =>
  `apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: ${name}\nspec:\n  cidr: 10.0.0.0/16\n`;

describe('parseManifests', () => {
  test('one YAML document', () => {
    const [r, ...rest] = parseManifests(pool('a'));
    assert.equal(rest.length, 0);
    assert.deepEqual(r, {
      apiVersion: 'projectcalico.org/v3',
      kind: 'IPPool',
      metadata: { name: 'a' },
      spec: { cidr: '10.0.0.0/16' },
    });
  });

  test('a --- stream, skipping empty documents and comment-only documents', () => {
    const rs = parseManifests(`---\n${pool('a')}---\n---\n# nothing here\n---\n${pool('b')}...\n`);
    assert.deepEqual(
      rs.map((r) => r.metadata.name),
      ['a', 'b'],
    );
  });

  test('empty input is no resources', () => {
    assert.deepEqual(parseManifests(''), []);
    assert.deepEqual(parseManifests('---\n# just a comment\n'), []);
  });

  test('JSON, single object and kind: List', () => {
    const one = parseManifests('{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x"}}');
    assert.equal(one[0]?.kind, 'Namespace');
    const list = parseManifests(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } },
          { apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 't' } },
        ],
      }),
    );
    assert.deepEqual(
      list.map((r) => `${r.kind}/${r.metadata.name}`),
      ['Namespace/a', 'Tier/t'],
    );
  });

  test('a typed <Kind>List lends its items apiVersion and kind', () => {
    const rs = parseManifests(
      'apiVersion: projectcalico.org/v3\nkind: IPPoolList\nitems:\n- metadata: {name: a}\n  spec: {cidr: 10.0.0.0/16}\n- kind: IPPool\n  metadata: {name: b}\n',
    );
    assert.deepEqual(
      rs.map((r) => [r.apiVersion, r.kind, r.metadata.name]),
      [
        ['projectcalico.org/v3', 'IPPool', 'a'],
        ['projectcalico.org/v3', 'IPPool', 'b'],
      ],
    );
  });

  test('plain List items must carry their own kind', () => {
    const err = parseError('apiVersion: v1\nkind: List\nitems:\n- metadata: {name: a}\n', 'list.yaml');
    assert.deepEqual(err.problems.map((p) => p.path).sort(), ['apiVersion', 'kind']);
    assert.match(err.message, /list\.yaml: document 1 \(line 1\) items\[0\]: kind is required/);
  });

  test('malformed YAML names the source and line', () => {
    const err = parseError(
      `${pool('a')}---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: [unclosed\n`,
      'bad.yaml',
    );
    assert.match(err.message, /^bad\.yaml: line \d+, column \d+: invalid YAML: /);
    const line = Number(/line (\d+)/.exec(err.message)?.[1]);
    assert.ok(line >= 11 && line <= 12, `line ${line} should point into the second document`);
  });

  test('duplicate keys are a syntax error (strict decoding)', () => {
    assert.match(parseError('kind: IPPool\nkind: Tier\n', 'dup.yaml').message, /dup\.yaml: line 2/);
  });

  test('non-object documents are rejected with their document number', () => {
    const err = parseError(`${pool('a')}---\n- just\n- a list\n---\nhello\n`, 'x.yaml');
    assert.equal(err.problems.length, 2);
    assert.match(err.problems[0]!.message, /x\.yaml: document 2 \(line 8\) is a list/);
    assert.match(err.problems[1]!.message, /document 3 .* is a string \("hello"\)/);
  });

  test('missing apiVersion / kind are reported at those paths', () => {
    const err = parseError('metadata:\n  name: a\n---\napiVersion: v1\nmetadata: {name: b}\n', 'm.yaml');
    assert.deepEqual(
      err.problems.map((p) => p.path),
      ['apiVersion', 'kind', 'kind'],
    );
    assert.match(err.problems[2]!.message, /m\.yaml: document 2 \(line 4\): kind is required/);
  });

  test('values keep their JSON types (ports stay numbers, quoted stay strings)', () => {
    const [r] = parseManifests(
      'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec:\n  ingress:\n  - action: Allow\n    protocol: TCP\n    destination: {ports: [80, "8080", "1:2"]}\n',
    );
    const ports = (r!.spec as { ingress: { destination: { ports: unknown[] } }[] }).ingress[0]!.destination.ports;
    assert.deepEqual(ports, [80, '8080', '1:2']);
  });
});
