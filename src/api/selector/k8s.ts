/**
 * Kubernetes `metav1.LabelSelector` → selector AST, with Kubernetes' own validation
 * (`ValidateLabelSelector`): keys and values checked, In/NotIn need values, Exists/DoesNotExist take none.
 * The input usually comes straight from YAML, so every field is type-checked at runtime.
 */
import { type Problem, validationError } from '../../lib/errors.js';
import { ALL_SELECTOR, type Selector } from './ast.js';
import { normalizeSelector } from './canonical.js';
import { validateLabelKey, validateLabelValue } from './labels.js';

export type LabelSelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface LabelSelector {
  matchLabels?: Record<string, string> | null;
  matchExpressions?: { key: string; operator: LabelSelectorOperator; values?: string[] | null }[] | null;
}

const OPERATORS: readonly string[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * `null`, `undefined` and `{}` all mean `all()` (the Kubernetes "empty selector matches everything"
 * reading; callers that need "nil matches nothing" must check before calling).
 */
export function labelSelectorToSelector(ls: LabelSelector | null | undefined): Selector {
  if (ls === null || ls === undefined) return ALL_SELECTOR;
  const problems: Problem[] = [];
  const operands: Selector[] = [];
  if (!isRecord(ls)) {
    problems.push({ path: '', message: `must be an object, got ${JSON.stringify(ls)}` });
    throw validationError('invalid label selector', problems);
  }
  const { matchLabels, matchExpressions } = ls as Record<string, unknown>;
  if (matchLabels !== undefined && matchLabels !== null) {
    if (!isRecord(matchLabels)) {
      problems.push({ path: 'matchLabels', message: 'must be a map of label keys to values' });
    } else {
      for (const key of Object.keys(matchLabels).sort()) {
        const value = matchLabels[key];
        const path = `matchLabels[${JSON.stringify(key)}]`;
        const keyProblem = validateLabelKey(key);
        if (keyProblem !== undefined) problems.push({ path, message: keyProblem });
        if (typeof value !== 'string') {
          problems.push({ path, message: `value must be a string, got ${JSON.stringify(value)}` });
          continue;
        }
        const valueProblem = validateLabelValue(value);
        if (valueProblem !== undefined) problems.push({ path, message: valueProblem });
        operands.push({ kind: 'eq', key, value });
      }
    }
  }
  if (matchExpressions !== undefined && matchExpressions !== null) {
    if (!Array.isArray(matchExpressions)) {
      problems.push({ path: 'matchExpressions', message: 'must be a list' });
    } else {
      matchExpressions.forEach((req: unknown, i: number) => {
        const s = convertRequirement(req, `matchExpressions[${i}]`, problems);
        if (s !== undefined) operands.push(s);
      });
    }
  }
  if (problems.length > 0) throw validationError('invalid label selector', problems);
  return normalizeSelector({ kind: 'and', operands });
}

function convertRequirement(req: unknown, path: string, problems: Problem[]): Selector | undefined {
  if (!isRecord(req)) {
    problems.push({ path, message: 'must be an object with key, operator and values' });
    return undefined;
  }
  const { key, operator, values } = req;
  const before = problems.length;
  if (typeof key !== 'string') {
    problems.push({ path: `${path}.key`, message: `must be a string, got ${JSON.stringify(key)}` });
  } else {
    const keyProblem = validateLabelKey(key);
    if (keyProblem !== undefined) problems.push({ path: `${path}.key`, message: keyProblem });
  }
  const list: string[] = [];
  if (values !== undefined && values !== null) {
    if (!Array.isArray(values)) {
      problems.push({ path: `${path}.values`, message: 'must be a list of strings' });
    } else {
      values.forEach((v: unknown, j: number) => {
        const p = `${path}.values[${j}]`;
        if (typeof v !== 'string') {
          problems.push({ path: p, message: `must be a string, got ${JSON.stringify(v)}` });
          return;
        }
        const valueProblem = validateLabelValue(v);
        if (valueProblem !== undefined) problems.push({ path: p, message: valueProblem });
        list.push(v);
      });
    }
  }
  if (typeof operator !== 'string' || !OPERATORS.includes(operator)) {
    problems.push({
      path: `${path}.operator`,
      message: `unknown operator ${JSON.stringify(operator)}: must be one of In, NotIn, Exists, DoesNotExist`,
    });
    return undefined;
  }
  const withValues = operator === 'In' || operator === 'NotIn';
  if (withValues && (!Array.isArray(values) || values.length === 0)) {
    problems.push({ path: `${path}.values`, message: `must be non-empty when operator is ${operator}` });
  }
  if (!withValues && Array.isArray(values) && values.length > 0) {
    problems.push({ path: `${path}.values`, message: `must be empty when operator is ${operator}` });
  }
  if (problems.length > before || typeof key !== 'string') return undefined;
  switch (operator) {
    case 'In':
      return { kind: 'in', key, values: list };
    case 'NotIn':
      return { kind: 'notIn', key, values: list };
    case 'Exists':
      return { kind: 'has', key };
    default:
      return { kind: 'not', operand: { kind: 'has', key } };
  }
}
