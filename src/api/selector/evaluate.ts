/**
 * Compiles a selector AST into a closure once (cached per AST object), so matching a label set
 * allocates nothing: this runs for every (selector, endpoint) pair.
 *
 * Label sets are plain records. A key is present when its value is a string; this keeps inherited
 * Object.prototype members (`constructor`, `toString`, ... are valid label keys) from looking present.
 */
import { NAMESPACE_LABEL, type Selector } from './ast.js';

export type Labels = Readonly<Record<string, string>>;
export type SelectorMatcher = (labels: Labels) => boolean;

const compiled = new WeakMap<Selector, SelectorMatcher>();

const matchAll: SelectorMatcher = () => true;
const matchNone: SelectorMatcher = () => false;
const matchGlobal: SelectorMatcher = (labels) => typeof labels[NAMESPACE_LABEL] !== 'string';

/** The matcher for `s`; compiled on first use and cached on the AST object. */
export function compileSelector(s: Selector): SelectorMatcher {
  let m = compiled.get(s);
  if (m === undefined) {
    m = build(s);
    compiled.set(s, m);
  }
  return m;
}

export function evaluateSelector(s: Selector, labels: Labels): boolean {
  return compileSelector(s)(labels);
}

function build(s: Selector): SelectorMatcher {
  switch (s.kind) {
    case 'all':
      return matchAll;
    case 'global':
      return matchGlobal;
    case 'has': {
      const key = s.key;
      return (labels) => typeof labels[key] === 'string';
    }
    case 'eq': {
      const { key, value } = s;
      return (labels) => labels[key] === value;
    }
    case 'ne': {
      // Absent key matches, as in Calico.
      const { key, value } = s;
      return (labels) => labels[key] !== value;
    }
    case 'contains': {
      const { key, value } = s;
      return (labels) => {
        const v = labels[key];
        return typeof v === 'string' && v.includes(value);
      };
    }
    case 'startsWith': {
      const { key, value } = s;
      return (labels) => {
        const v = labels[key];
        return typeof v === 'string' && v.startsWith(value);
      };
    }
    case 'endsWith': {
      const { key, value } = s;
      return (labels) => {
        const v = labels[key];
        return typeof v === 'string' && v.endsWith(value);
      };
    }
    case 'in': {
      const key = s.key;
      const set = new Set<unknown>(s.values);
      return (labels) => set.has(labels[key]);
    }
    case 'notIn': {
      // Absent key matches, as in Calico and Kubernetes NotIn.
      const key = s.key;
      const set = new Set<unknown>(s.values);
      return (labels) => !set.has(labels[key]);
    }
    case 'not': {
      const inner = compileSelector(s.operand);
      return (labels) => !inner(labels);
    }
    case 'and':
      return buildAnd(s.operands.map(compileSelector));
    case 'or':
      return buildOr(s.operands.map(compileSelector));
  }
}

function buildAnd(ms: SelectorMatcher[]): SelectorMatcher {
  if (ms.length === 0) return matchAll;
  if (ms.length === 1) return ms[0] as SelectorMatcher;
  if (ms.length === 2) {
    const [a, b] = ms as [SelectorMatcher, SelectorMatcher];
    return (labels) => a(labels) && b(labels);
  }
  return (labels) => {
    for (let i = 0; i < ms.length; i++) if (!(ms[i] as SelectorMatcher)(labels)) return false;
    return true;
  };
}

function buildOr(ms: SelectorMatcher[]): SelectorMatcher {
  if (ms.length === 0) return matchNone;
  if (ms.length === 1) return ms[0] as SelectorMatcher;
  if (ms.length === 2) {
    const [a, b] = ms as [SelectorMatcher, SelectorMatcher];
    return (labels) => a(labels) || b(labels);
  }
  return (labels) => {
    for (let i = 0; i < ms.length; i++) if ((ms[i] as SelectorMatcher)(labels)) return true;
    return false;
  };
}
