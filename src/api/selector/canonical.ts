/**
 * Canonical form. `normalizeSelector` and `printSelector` are one pass: a node's canonical text is its
 * sort key, so equal selectors get equal text and (by construction) equal normalized ASTs.
 *
 * Rules: `&&`/`||` are flattened, their operands deduped and sorted by canonical text (code-unit order);
 * `all()` is dropped inside `&&` and absorbs a whole `||`; `!all()` absorbs a whole `&&` and is dropped
 * inside `||`; `!!x` is `x`; `in`/`not in` sets are sorted and deduped; strings are double-quoted with
 * `\` and `"` escaped. Parentheses appear only where precedence needs them (`!` > `&&` > `||`), so the
 * printed text parses back to exactly the normalized AST.
 */
import { ALL_SELECTOR, NONE_SELECTOR, type Selector } from './ast.js';

interface Canon {
  readonly node: Selector;
  readonly text: string;
}

const ALL_TEXT = 'all()';
const NONE_TEXT = '!all()';
const ALL_CANON: Canon = { node: ALL_SELECTOR, text: ALL_TEXT };
const NONE_CANON: Canon = { node: NONE_SELECTOR, text: NONE_TEXT };

// Keyed by frozen input nodes only: an unfrozen caller-built node could be mutated after caching.
const cache = new WeakMap<Selector, Canon>();

export function quoteSelectorString(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

function uniqueSorted(values: readonly string[]): string[] {
  return [...new Set(values)].sort(compareText);
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function make(node: Selector, text: string): Canon {
  return { node: Object.freeze(node), text };
}

function parenthesizeIfCompound(c: Canon): string {
  return c.node.kind === 'and' || c.node.kind === 'or' ? `(${c.text})` : c.text;
}

function canon(s: Selector): Canon {
  const cached = cache.get(s);
  if (cached !== undefined) return cached;
  const c = compute(s);
  if (Object.isFrozen(s)) cache.set(s, c);
  // The normalized node is frozen and canonical already: map it to itself so re-normalizing is free.
  if (c.node !== s) cache.set(c.node, c);
  return c;
}

function compute(s: Selector): Canon {
  switch (s.kind) {
    case 'all':
      return ALL_CANON;
    case 'global':
      return make({ kind: 'global' }, 'global()');
    case 'has':
      return make({ kind: 'has', key: s.key }, `has(${s.key})`);
    case 'eq':
    case 'ne':
    case 'contains':
    case 'startsWith':
    case 'endsWith':
      return make(
        { kind: s.kind, key: s.key, value: s.value },
        `${s.key}${VALUE_OP_TEXT[s.kind]}${quoteSelectorString(s.value)}`,
      );
    case 'in':
    case 'notIn': {
      const values = Object.freeze(uniqueSorted(s.values));
      const op = s.kind === 'in' ? ' in ' : ' not in ';
      return make({ kind: s.kind, key: s.key, values }, `${s.key}${op}{${values.map(quoteSelectorString).join(', ')}}`);
    }
    case 'not': {
      const inner = canon(s.operand);
      if (inner.node.kind === 'not') return canon(inner.node.operand);
      if (inner.node.kind === 'all') return NONE_CANON;
      return make({ kind: 'not', operand: inner.node }, `!${parenthesizeIfCompound(inner)}`);
    }
    case 'and':
    case 'or':
      return combine(s.kind, s.operands);
  }
}

const VALUE_OP_TEXT = {
  eq: ' == ',
  ne: ' != ',
  contains: ' contains ',
  startsWith: ' starts with ',
  endsWith: ' ends with ',
} as const;

function combine(kind: 'and' | 'or', operands: readonly Selector[]): Canon {
  // For `&&`, all() is the identity and !all() absorbs; for `||` the other way round.
  const identity = kind === 'and' ? ALL_TEXT : NONE_TEXT;
  const absorbing = kind === 'and' ? NONE_CANON : ALL_CANON;
  const byText = new Map<string, Canon>();
  const stack: Selector[] = [...operands].reverse();
  while (stack.length > 0) {
    const c = canon(stack.pop() as Selector);
    if (c.node.kind === kind) {
      // Operands of a canonical node are canonical and never of the same kind.
      for (const op of (c.node as { operands: readonly Selector[] }).operands) {
        const oc = canon(op);
        byText.set(oc.text, oc);
      }
      continue;
    }
    if (c.text === identity) continue;
    if (c.text === absorbing.text) return absorbing;
    byText.set(c.text, c);
  }
  const parts = [...byText.values()].sort((a, b) => compareText(a.text, b.text));
  if (parts.length === 0) return kind === 'and' ? ALL_CANON : NONE_CANON;
  if (parts.length === 1) return parts[0] as Canon;
  const nodes = Object.freeze(parts.map((p) => p.node));
  // `&&` binds tighter than `||`: only an `||` inside `&&` needs parentheses.
  const text =
    kind === 'and'
      ? parts.map((p) => (p.node.kind === 'or' ? `(${p.text})` : p.text)).join(' && ')
      : parts.map((p) => p.text).join(' || ');
  return make({ kind, operands: nodes }, text);
}

/** The canonical (normalized, frozen) AST for `s`. */
export function normalizeSelector(s: Selector): Selector {
  return canon(s).node;
}

/** Canonical text: equal selectors print equal; `parseSelector(printSelector(s))` is `normalizeSelector(s)`. */
export function printSelector(s: Selector): string {
  return canon(s).text;
}

export function andSelectors(...selectors: Selector[]): Selector {
  return canon({ kind: 'and', operands: selectors }).node;
}
