import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isTesseraError } from '../../lib/errors.js';
import { ALL_SELECTOR, canonicalSelector, parseSelector, printSelector, type Selector } from './index.js';

function parseError(text: string): { message: string; position: unknown } {
  try {
    parseSelector(text);
  } catch (err) {
    assert.ok(isTesseraError(err, 'validation'), `expected a validation error for ${JSON.stringify(text)}`);
    return { message: err.message, position: err.details['position'] };
  }
  assert.fail(`expected ${JSON.stringify(text)} to be rejected`);
}

describe('parseSelector: operators', () => {
  const cases: [string, Selector][] = [
    ['a == "x"', { kind: 'eq', key: 'a', value: 'x' }],
    ['a != "x"', { kind: 'ne', key: 'a', value: 'x' }],
    ['a contains "x"', { kind: 'contains', key: 'a', value: 'x' }],
    ['a starts with "x"', { kind: 'startsWith', key: 'a', value: 'x' }],
    ['a ends with "x"', { kind: 'endsWith', key: 'a', value: 'x' }],
    ['a in {"y", "x"}', { kind: 'in', key: 'a', values: ['x', 'y'] }],
    ['a not in {"x"}', { kind: 'notIn', key: 'a', values: ['x'] }],
    ['a in {}', { kind: 'in', key: 'a', values: [] }],
    ['has(a)', { kind: 'has', key: 'a' }],
    ['all()', { kind: 'all' }],
    ['global()', { kind: 'global' }],
    ['!has(a)', { kind: 'not', operand: { kind: 'has', key: 'a' } }],
    ['projectcalico.org/namespace == "ns1"', { kind: 'eq', key: 'projectcalico.org/namespace', value: 'ns1' }],
  ];
  for (const [text, ast] of cases) {
    test(text, () => assert.deepEqual(parseSelector(text), ast));
  }

  test('empty and blank text mean all()', () => {
    assert.deepEqual(parseSelector(''), ALL_SELECTOR);
    assert.deepEqual(parseSelector(' \t\n'), ALL_SELECTOR);
  });

  test('has/all/global are labels unless followed by "("', () => {
    assert.deepEqual(parseSelector('has == "x"'), { kind: 'eq', key: 'has', value: 'x' });
    assert.deepEqual(parseSelector('all != "x"'), { kind: 'ne', key: 'all', value: 'x' });
    assert.deepEqual(parseSelector('global in {"x"}'), { kind: 'in', key: 'global', values: ['x'] });
  });

  test('whitespace-insensitive', () => {
    const tight = 'a=="x"&&!has(b)||c in{"1","2"}&&d not in{"3"}';
    const loose = '  a  ==  "x"  &&  !  has ( b )  ||  c  in  { "1" , "2" }  &&  d  not   in  { "3" , }  ';
    assert.equal(canonicalSelector(tight), canonicalSelector(loose));
    assert.equal(canonicalSelector('a\tstarts\twith\n"x"'), 'a starts with "x"');
    assert.equal(canonicalSelector('all( )'), 'all()');
  });
});

describe('parseSelector: precedence', () => {
  test('&& binds tighter than ||', () => {
    assert.deepEqual(parseSelector('has(a) || has(b) && has(c)'), {
      kind: 'or',
      operands: [
        { kind: 'has', key: 'a' },
        {
          kind: 'and',
          operands: [
            { kind: 'has', key: 'b' },
            { kind: 'has', key: 'c' },
          ],
        },
      ],
    });
  });
  test('! binds tighter than &&', () => {
    assert.deepEqual(parseSelector('!has(a) && has(b)'), {
      kind: 'and',
      operands: [
        { kind: 'not', operand: { kind: 'has', key: 'a' } },
        { kind: 'has', key: 'b' },
      ],
    });
    assert.deepEqual(parseSelector('!a == "x"'), { kind: 'not', operand: { kind: 'eq', key: 'a', value: 'x' } });
  });
  test('parentheses override precedence', () => {
    assert.equal(printSelector(parseSelector('(has(a) || has(b)) && has(c)')), '(has(a) || has(b)) && has(c)');
    assert.equal(printSelector(parseSelector('!(has(a) && has(b))')), '!(has(a) && has(b))');
  });
  test('repeated ! collapses by parity', () => {
    assert.deepEqual(parseSelector('!!has(a)'), { kind: 'has', key: 'a' });
    assert.deepEqual(parseSelector('!!!has(a)'), { kind: 'not', operand: { kind: 'has', key: 'a' } });
    assert.deepEqual(parseSelector('!(!has(a))'), { kind: 'has', key: 'a' });
  });
});

describe('parseSelector: quoting', () => {
  test('single and double quotes are equivalent', () => {
    assert.deepEqual(parseSelector("a == 'x'"), parseSelector('a == "x"'));
    assert.deepEqual(parseSelector(`a == 'say "hi"'`), { kind: 'eq', key: 'a', value: 'say "hi"' });
    assert.deepEqual(parseSelector(`a == "it's"`), { kind: 'eq', key: 'a', value: "it's" });
  });
  test('backslash escapes only \\ and quotes; other backslashes are literal (as Calico)', () => {
    assert.deepEqual(parseSelector(String.raw`a == "x\"y"`), { kind: 'eq', key: 'a', value: 'x"y' });
    assert.deepEqual(parseSelector(String.raw`a == 'x\'y'`), { kind: 'eq', key: 'a', value: "x'y" });
    assert.deepEqual(parseSelector(String.raw`a == "x\\y"`), { kind: 'eq', key: 'a', value: 'x\\y' });
    assert.deepEqual(parseSelector(String.raw`a == "x\ny"`), { kind: 'eq', key: 'a', value: 'x\\ny' });
  });
  test('operators and spaces inside strings are data', () => {
    assert.deepEqual(parseSelector('a == "b && c || !d)"'), { kind: 'eq', key: 'a', value: 'b && c || !d)' });
    assert.deepEqual(parseSelector('a == ""'), { kind: 'eq', key: 'a', value: '' });
  });
  test('printer always double-quotes and escapes', () => {
    assert.equal(canonicalSelector(`a == 'say "hi"'`), String.raw`a == "say \"hi\""`);
    assert.equal(canonicalSelector(String.raw`a == 'back\\slash'`), String.raw`a == "back\\slash"`);
    assert.equal(canonicalSelector(`a in {'q"', "it's"}`), String.raw`a in {"it's", "q\""}`);
  });
});

describe('parseSelector: errors', () => {
  const cases: [string, number, RegExp][] = [
    ['a == ', 5, /expected a quoted string at position 5$/],
    ['a == b', 5, /expected a quoted string at position 5, found "b"/],
    ['a = "b"', 2, /expected "==" at position 2, found "="/],
    ['a == "b" & has(c)', 9, /expected "&&" at position 9/],
    ['a == "b" | has(c)', 9, /expected "\|\|" at position 9/],
    ['(a == "b"', 9, /expected "\)" at position 9$/],
    ['a == "b")', 8, /unmatched "\)" at position 8/],
    ['a == "b" c == "d"', 9, /expected "&&", "\|\|" or end of selector at position 9, found "c"/],
    ['a == "b', 5, /unterminated string starting at position 5/],
    ['#', 0, /expected a label.* at position 0, found "#"/],
    ['a == "b" && ', 12, /expected a label/],
    ['has()', 4, /expected a label key in "has\(\)" at position 4, found "\)"/],
    ['has(a', 5, /expected "\)" to close "has\("/],
    ['all(x)', 4, /expected "\)" after "all\(" at position 4, found "x"/],
    ['global(', 7, /expected "\)" after "global\("/],
    ['a', 1, /expected an operator/],
    ['a inx {"b"}', 2, /expected an operator .* after label "a" at position 2, found "i"/],
    ['a starts "x"', 9, /expected "starts with" at position 9/],
    ['a ends', 6, /expected "ends with"/],
    ['a not {"x"}', 6, /expected "not in"/],
    ['a in "x"', 5, /expected "\{" at position 5/],
    ['a in {"x" "y"}', 10, /expected "," or "}" at position 10/],
    ['a in {x}', 6, /expected a quoted string or "}" at position 6, found "x"/],
    ['a in {"x"', 9, /expected "," or "}" at position 9$/],
    ['a in {', 6, /expected a quoted string or "}" at position 6$/],
    ['!', 1, /expected a label/],
    ['a == "x" && B/c == "y"', 12, /label key "B\/c": prefix part must be a lowercase RFC 1123 subdomain/],
    [`${'k'.repeat(64)} == "x"`, 0, /no more than 63 characters/],
    ['has(-a)', 4, /label key "-a"/],
  ];
  for (const [text, position, re] of cases) {
    test(JSON.stringify(text), () => {
      const e = parseError(text);
      assert.equal(e.position, position, e.message);
      assert.match(e.message, re);
      assert.ok(e.message.startsWith(`invalid selector ${JSON.stringify(text)}: `), e.message);
    });
  }

  test('deep nesting is rejected, not a stack overflow', () => {
    const e = parseError(`${'('.repeat(10_000)}has(a)${')'.repeat(10_000)}`);
    assert.match(e.message, /nested deeper than/);
    assert.equal(canonicalSelector(`${'('.repeat(50)}has(a)${')'.repeat(50)}`), 'has(a)');
  });
});

test('non-string input (from untyped YAML) is a validation error', () => {
  assert.throws(
    () => parseSelector(42 as unknown as string),
    (err) => isTesseraError(err, 'validation') && /must be a string/.test(err.message),
  );
});
