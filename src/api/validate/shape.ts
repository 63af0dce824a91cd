/**
 * Structural ("strict decoding") checks: every field is known and has the right JSON type.
 * Semantic rules (ranges, CIDRs, selectors, cross-field) live beside this, per kind; they only look
 * at values whose type is already right, so each mistake is reported once.
 */
import type { Problem } from '../../lib/errors.js';

export type Shape =
  | { readonly t: 'string' | 'int' | 'number' | 'bool' | 'intOrString' | 'any' }
  | { readonly t: 'array'; readonly of: Shape }
  | { readonly t: 'map'; readonly of: Shape }
  | { readonly t: 'object'; readonly fields: Readonly<Record<string, Shape>>; readonly open?: boolean };

export const str: Shape = { t: 'string' };
export const int: Shape = { t: 'int' };
export const num: Shape = { t: 'number' };
export const bool: Shape = { t: 'bool' };
export const intOrString: Shape = { t: 'intOrString' };
export const anyValue: Shape = { t: 'any' };
export const arr = (of: Shape): Shape => ({ t: 'array', of });
export const map = (of: Shape): Shape => ({ t: 'map', of });
export const obj = (fields: Record<string, Shape>): Shape => ({ t: 'object', fields });
/** An object whose listed fields are checked and whose other fields are carried along. */
export const openObj = (fields: Record<string, Shape>): Shape => ({ t: 'object', fields, open: true });

/** `a.b`, `a[0]`, and `a["x.y/z"]` for keys that are not plain identifiers. */
export function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) return `${base}[${JSON.stringify(key)}]`;
  return base === '' ? key : `${base}.${key}`;
}

export function quote(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || typeof v !== 'object') return String(v);
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${quote(v)}`;
}

export function checkShape(value: unknown, shape: Shape, path: string, out: Problem[]): void {
  const bad = (expected: string): void => {
    out.push({ path, message: `expected ${expected}, got ${typeName(value)}` });
  };
  switch (shape.t) {
    case 'any':
      return;
    case 'string':
      if (typeof value !== 'string') bad('a string');
      return;
    case 'bool':
      if (typeof value !== 'boolean') bad('true or false');
      return;
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) bad('an integer');
      return;
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) bad('a number');
      return;
    case 'intOrString':
      if (typeof value !== 'string' && (typeof value !== 'number' || !Number.isInteger(value))) {
        bad('an integer or a string');
      }
      return;
    case 'array':
      if (!Array.isArray(value)) return bad('a list');
      value.forEach((item, i) => checkShape(item, shape.of, joinPath(path, i), out));
      return;
    case 'map':
      if (!isRecord(value)) return bad('a map');
      for (const [k, v] of Object.entries(value)) checkShape(v, shape.of, joinPath(path, k), out);
      return;
    case 'object': {
      if (!isRecord(value)) return bad('an object');
      for (const [k, v] of Object.entries(value)) {
        const field = shape.fields[k];
        if (field === undefined) {
          if (!shape.open) out.push({ path: joinPath(path, k), message: `unknown field ${JSON.stringify(k)}` });
          continue;
        }
        // `null` is how YAML spells "unset"; Kubernetes' decoder treats it the same way.
        if (v === null) continue;
        checkShape(v, field, joinPath(path, k), out);
      }
      return;
    }
  }
}
