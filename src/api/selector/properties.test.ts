/**
 * Property tests. The reference evaluator and the text renderer below share no code with the module:
 * they are deliberately naive so a bug in the compiled evaluator or the parser shows up as a mismatch.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { evaluateSelector, parseSelector, printSelector, type Selector } from './index.js';

const KEYS = ['a', 'b', 'app', 'example.com/tier', 'constructor', 'projectcalico.org/namespace'];
// Values include characters that stress quoting; labels get some of them too (evaluation does not validate).
const VALUES = ['', 'web', 'we', 'eb', 'db', 'a"b', "it's", 'x\\y', '\\', 'a b', '&& ||', ')'];
const RUNS = { numRuns: 400 };

type Labels = Record<string, string>;

// ---- random ASTs (may be unnormalized: empty/singleton &&/||, double negation, duplicates) ----

const keyArb = fc.constantFrom(...KEYS);
const valueArb = fc.constantFrom(...VALUES);

const leafArb: fc.Arbitrary<Selector> = fc.oneof(
  fc.constant<Selector>({ kind: 'all' }),
  fc.constant<Selector>({ kind: 'global' }),
  keyArb.map((key): Selector => ({ kind: 'has', key })),
  fc
    .tuple(fc.constantFrom('eq', 'ne', 'contains', 'startsWith', 'endsWith' as const), keyArb, valueArb)
    .map(([kind, key, value]): Selector => ({ kind, key, value })),
  fc
    .tuple(fc.constantFrom('in', 'notIn' as const), keyArb, fc.array(valueArb, { maxLength: 4 }))
    .map(([kind, key, values]): Selector => ({ kind, key, values })),
);

const astArb: fc.Arbitrary<Selector> = fc.letrec<{ node: Selector }>((tie) => ({
  node: fc.oneof(
    { maxDepth: 4, depthIdentifier: 'ast' },
    leafArb,
    tie('node').map((operand): Selector => ({ kind: 'not', operand })),
    fc.array(tie('node'), { maxLength: 4 }).map((operands): Selector => ({ kind: 'and', operands })),
    fc.array(tie('node'), { maxLength: 4 }).map((operands): Selector => ({ kind: 'or', operands })),
  ),
})).node;

const labelsArb: fc.Arbitrary<Labels> = fc.array(fc.tuple(keyArb, valueArb), { maxLength: 6 }).map((pairs) => {
  const labels: Labels = {};
  for (const [k, v] of pairs) labels[k] = v;
  return labels;
});

// ---- naive reference evaluator ----

function reference(s: Selector, labels: Labels): boolean {
  const present = (k: string): boolean => Object.prototype.hasOwnProperty.call(labels, k);
  switch (s.kind) {
    case 'all':
      return true;
    case 'global':
      return !present('projectcalico.org/namespace');
    case 'has':
      return present(s.key);
    case 'eq':
      return present(s.key) && labels[s.key] === s.value;
    case 'ne':
      return !(present(s.key) && labels[s.key] === s.value);
    case 'contains':
      return present(s.key) && String(labels[s.key]).indexOf(s.value) !== -1;
    case 'startsWith':
      return present(s.key) && String(labels[s.key]).slice(0, s.value.length) === s.value;
    case 'endsWith': {
      if (!present(s.key)) return false;
      const v = String(labels[s.key]);
      return v.length >= s.value.length && v.slice(v.length - s.value.length) === s.value;
    }
    case 'in':
      return present(s.key) && s.values.some((x) => x === labels[s.key]);
    case 'notIn':
      return !(present(s.key) && s.values.some((x) => x === labels[s.key]));
    case 'not':
      return !reference(s.operand, labels);
    case 'and':
      return s.operands.every((o) => reference(o, labels));
    case 'or':
      return s.operands.some((o) => reference(o, labels));
  }
}

// ---- random selector text with random quoting, spacing and redundant parentheses ----

interface Rendered {
  ast: Selector;
  text: string;
  /** 3: atom or negation, 2: `&&` chain, 1: `||` chain. */
  level: 1 | 2 | 3;
}

const ws0 = fc.constantFrom('', ' ', '  ', '\t', '\n');
const ws1 = fc.constantFrom(' ', '  ', '\t', '\n ');
const quoteArb = fc.constantFrom('"', "'");

function quoted(value: string, q: string): string {
  let out = q;
  for (const ch of value) out += ch === '\\' || ch === q ? `\\${ch}` : ch;
  return out + q;
}

const quotedValueArb = fc.tuple(valueArb, quoteArb).map(([v, q]) => ({ value: v, text: quoted(v, q) }));

const renderedLeafArb: fc.Arbitrary<Rendered> = fc.oneof(
  fc
    .tuple(ws0, ws0)
    .map(([s1, s2]) => ({ ast: { kind: 'all' } as Selector, text: `all(${s1}${s2})`, level: 3 as const })),
  ws0.map((s) => ({ ast: { kind: 'global' } as Selector, text: `global(${s})`, level: 3 as const })),
  fc.tuple(keyArb, ws0, ws0, ws0).map(([key, a, b, c]) => ({
    ast: { kind: 'has', key } as Selector,
    text: `has${a}(${b}${key}${c})`,
    level: 3 as const,
  })),
  fc.tuple(keyArb, fc.constantFrom('==', '!='), ws0, ws0, quotedValueArb).map(([key, op, a, b, v]) => ({
    ast: { kind: op === '==' ? 'eq' : 'ne', key, value: v.value } as Selector,
    text: `${key}${a}${op}${b}${v.text}`,
    level: 3 as const,
  })),
  fc
    .tuple(keyArb, fc.constantFrom('contains', 'starts with', 'ends with'), ws1, ws1, ws0, quotedValueArb)
    .map(([key, op, a, mid, b, v]) => ({
      ast: {
        kind: op === 'contains' ? 'contains' : op === 'starts with' ? 'startsWith' : 'endsWith',
        key,
        value: v.value,
      } as Selector,
      text: `${key}${a}${op.replace(' ', mid)}${b}${v.text}`,
      level: 3 as const,
    })),
  fc
    .tuple(
      keyArb,
      fc.boolean(),
      ws1,
      ws1,
      ws0,
      fc.array(fc.tuple(quotedValueArb, ws0, ws0), { maxLength: 4 }),
      fc.boolean(),
    )
    .map(([key, negated, a, mid, b, items, trailingComma]) => {
      const inner = items.map(([v, s1, s2]) => `${s1}${v.text}${s2}`).join(',');
      return {
        ast: { kind: negated ? 'notIn' : 'in', key, values: items.map(([v]) => v.value) } as Selector,
        text: `${key}${a}${negated ? `not${mid}in` : 'in'}${b}{${inner}${trailingComma && items.length > 0 ? ',' : ''}}`,
        level: 3 as const,
      };
    }),
);

function paren(r: Rendered, s1: string, s2: string): string {
  return `(${s1}${r.text}${s2})`;
}

const renderedArb: fc.Arbitrary<Rendered> = fc.letrec<{ node: Rendered }>((tie) => ({
  node: fc.oneof(
    { maxDepth: 4, depthIdentifier: 'text' },
    renderedLeafArb,
    fc.tuple(tie('node'), ws0, ws0, ws0).map(([r, s0, s1, s2]) => ({
      ast: { kind: 'not', operand: r.ast } as Selector,
      text: `!${s0}${r.level === 3 ? r.text : paren(r, s1, s2)}`,
      level: 3 as const,
    })),
    fc.tuple(tie('node'), ws0, ws0).map(([r, s1, s2]) => ({ ast: r.ast, text: paren(r, s1, s2), level: 3 as const })),
    ...(['and', 'or'] as const).map((kind) =>
      fc.array(fc.tuple(tie('node'), ws0, ws0, fc.boolean()), { minLength: 2, maxLength: 4 }).map((parts) => {
        const minLevel = kind === 'and' ? 2 : 1;
        const texts = parts.map(([r, s1, s2, extra]) => (r.level < minLevel || extra ? paren(r, s1, s2) : r.text));
        const seps = parts.map(([, s1, s2]) => `${s2}${kind === 'and' ? '&&' : '||'}${s1}`);
        const text = texts.reduce((acc, t, i) => `${acc}${seps[i - 1] ?? ''}${t}`, '');
        return { ast: { kind, operands: parts.map(([r]) => r.ast) } as Selector, text, level: minLevel as 1 | 2 };
      }),
    ),
  ),
})).node;

// ---- operand shuffling (deterministic from a seed) ----

function shuffleOperands(s: Selector, seed: number): Selector {
  let state = seed >>> 0 || 1;
  const next = (): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state;
  };
  const walk = (n: Selector): Selector => {
    switch (n.kind) {
      case 'not':
        return { kind: 'not', operand: walk(n.operand) };
      case 'and':
      case 'or': {
        const ops = n.operands.map(walk);
        for (let i = ops.length - 1; i > 0; i--) {
          const j = next() % (i + 1);
          [ops[i], ops[j]] = [ops[j] as Selector, ops[i] as Selector];
        }
        // Duplicating an operand must not change the canonical form either.
        if (ops.length > 0 && next() % 3 === 0) ops.push(ops[next() % ops.length] as Selector);
        return { kind: n.kind, operands: ops };
      }
      case 'in':
      case 'notIn': {
        const values = [...n.values].reverse();
        return { kind: n.kind, key: n.key, values };
      }
      default:
        return n;
    }
  };
  return walk(s);
}

describe('selector properties', () => {
  test('parse(print(ast)) prints identically, round-trips the AST and evaluates identically', () => {
    fc.assert(
      fc.property(astArb, fc.array(labelsArb, { minLength: 1, maxLength: 5 }), (ast, labelSets) => {
        const text = printSelector(ast);
        const parsed = parseSelector(text);
        assert.equal(printSelector(parsed), text);
        assert.deepEqual(parseSelector(printSelector(parsed)), parsed);
        for (const labels of labelSets) {
          assert.equal(
            evaluateSelector(parsed, labels),
            evaluateSelector(ast, labels),
            `${text} on ${JSON.stringify(labels)}`,
          );
          assert.equal(
            evaluateSelector(parsed, labels),
            reference(ast, labels),
            `${text} on ${JSON.stringify(labels)}`,
          );
        }
      }),
      RUNS,
    );
  });

  test('evaluator on parsed random selector text agrees with the naive reference evaluator', () => {
    fc.assert(
      fc.property(renderedArb, fc.array(labelsArb, { minLength: 1, maxLength: 8 }), (r, labelSets) => {
        const parsed = parseSelector(r.text);
        for (const labels of labelSets) {
          const expected = reference(r.ast, labels);
          const where = `${JSON.stringify(r.text)} on ${JSON.stringify(labels)}`;
          assert.equal(evaluateSelector(parsed, labels), expected, where);
          assert.equal(evaluateSelector(r.ast, labels), expected, `raw AST: ${where}`);
        }
        // The text's meaning survives canonical printing too.
        assert.equal(printSelector(parseSelector(printSelector(parsed))), printSelector(parsed));
        assert.equal(printSelector(r.ast), printSelector(parsed));
      }),
      RUNS,
    );
  });

  test('canonical form is invariant under reordering (and duplicating) operands of && and ||', () => {
    fc.assert(
      fc.property(astArb, fc.integer(), (ast, seed) => {
        assert.equal(printSelector(shuffleOperands(ast, seed)), printSelector(ast));
      }),
      RUNS,
    );
  });
});
