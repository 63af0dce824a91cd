import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ALL_SELECTOR,
  andSelectors,
  canonicalSelector,
  parseSelector,
  printSelector,
  selectorLabelKeys,
  type Selector,
} from './index.js';

describe('printSelector canonical form', () => {
  test('equal selectors print equal', () => {
    const variants = [
      'b == "2" && a == "1"',
      "a == '1' && b == '2'",
      '(a == "1") && ((b == "2"))',
      'a == "1" && b == "2" && a == "1"',
      'all() && a == "1" && (b == "2" && all())',
      '!!(a == "1" && b == "2")',
    ];
    for (const v of variants) assert.equal(canonicalSelector(v), 'a == "1" && b == "2"', v);
  });

  test('flattens nested && and || and sorts operands', () => {
    assert.equal(canonicalSelector('has(c) || (has(b) || has(a))'), 'has(a) || has(b) || has(c)');
    assert.equal(canonicalSelector('has(c) && (has(b) && (has(a)))'), 'has(a) && has(b) && has(c)');
  });

  test('keeps parentheses only where precedence needs them', () => {
    assert.equal(canonicalSelector('(has(a) && has(b)) || has(c)'), 'has(a) && has(b) || has(c)');
    assert.equal(canonicalSelector('has(c) && (has(a) || has(b))'), '(has(a) || has(b)) && has(c)');
    assert.equal(canonicalSelector('!(has(a) || has(b))'), '!(has(a) || has(b))');
  });

  test('sorts and dedupes in/not in sets', () => {
    assert.equal(canonicalSelector('a in {"z", "b", "z", "a"}'), 'a in {"a", "b", "z"}');
    assert.equal(canonicalSelector("a not in {'z', \"a\", 'a'}"), 'a not in {"a", "z"}');
  });

  test('all() is the identity of && and absorbs ||; !all() the reverse', () => {
    assert.equal(canonicalSelector('all() && all()'), 'all()');
    assert.equal(canonicalSelector('has(a) || all()'), 'all()');
    assert.equal(canonicalSelector('has(a) && !all()'), '!all()');
    assert.equal(canonicalSelector('has(a) || !all()'), 'has(a)');
    assert.equal(canonicalSelector('!!all()'), 'all()');
  });

  test('global() and every value operator print in Calico syntax', () => {
    assert.equal(
      canonicalSelector("global() && a contains 'x' && b starts with 'y' && c ends with 'z' && d != 'w'"),
      'a contains "x" && b starts with "y" && c ends with "z" && d != "w" && global()',
    );
  });

  test('printing a hand-built, unnormalized AST', () => {
    const s: Selector = {
      kind: 'or',
      operands: [
        { kind: 'and', operands: [] },
        { kind: 'has', key: 'x' },
      ],
    };
    assert.equal(printSelector(s), 'all()');
    assert.equal(printSelector({ kind: 'or', operands: [] }), '!all()');
    assert.equal(
      printSelector({ kind: 'not', operand: { kind: 'not', operand: { kind: 'has', key: 'a' } } }),
      'has(a)',
    );
  });

  test('parse(print(s)) deep-equals s for parsed selectors', () => {
    for (const text of [
      'has(a) || has(b) && !(c in {"1"} || d == "x\\"y")',
      '!global() && a not in {}',
      "x ends with '\\\\'",
    ]) {
      const s = parseSelector(text);
      assert.deepEqual(parseSelector(printSelector(s)), s);
    }
  });

  test('parsed ASTs are frozen', () => {
    const s = parseSelector('a == "1" && b in {"x"}');
    assert.ok(Object.isFrozen(s));
    assert.equal(s.kind, 'and');
    if (s.kind === 'and') {
      assert.ok(Object.isFrozen(s.operands));
      assert.ok(s.operands.every((o) => Object.isFrozen(o)));
    }
  });
});

describe('andSelectors', () => {
  test('combines and normalizes', () => {
    const s = andSelectors(parseSelector('b == "2"'), parseSelector('a == "1" && b == "2"'), ALL_SELECTOR);
    assert.equal(printSelector(s), 'a == "1" && b == "2"');
    assert.deepEqual(andSelectors(), ALL_SELECTOR);
    assert.deepEqual(andSelectors(parseSelector('has(a)')), parseSelector('has(a)'));
  });
});

describe('selectorLabelKeys', () => {
  test('lists every key read, sorted and unique', () => {
    assert.deepEqual(
      selectorLabelKeys(parseSelector('z == "1" || !has(a) && (m in {"x"} || a starts with "q") && all()')),
      ['a', 'm', 'z'],
    );
    assert.deepEqual(selectorLabelKeys(ALL_SELECTOR), []);
    assert.deepEqual(selectorLabelKeys(parseSelector('global() && has(b)')), ['b', 'projectcalico.org/namespace']);
  });
});
