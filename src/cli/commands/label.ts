/**
 * `tessera label KIND NAME key=value... key-... [--overwrite]`, like kubectl: changing the value of
 * an existing key needs --overwrite (setting the same value again is a no-op), `key-` removes a
 * key (removing an absent key is a warning, not an error). Works for every kind; namespaced objects
 * are named `ns/name` or with -n. CAS with bounded retry.
 */
import { validateLabelKey, validateLabelValue, type ObjectMeta } from '../../api/index.js';
import { TesseraError } from '../../lib/errors.js';
import { modifyWithRetry } from '../cas.js';
import { cliKindName } from '../format.js';
import type { VerbDeps } from '../io.js';
import { parseNameArg, resolveKind } from '../refs.js';
import { describeRef } from '../store.js';

export interface LabelArgs {
  kind: string;
  name: string;
  changes: string[];
  namespace?: string | undefined;
  overwrite?: boolean | undefined;
}

export type LabelChange = { op: 'set'; key: string; value: string } | { op: 'remove'; key: string };

export function parseLabelChanges(changes: string[]): LabelChange[] {
  if (changes.length === 0) throw new TesseraError('usage', 'label: give at least one key=value or key-');
  const out: LabelChange[] = [];
  const problems: string[] = [];
  for (const c of changes) {
    const eq = c.indexOf('=');
    if (eq >= 0) {
      const key = c.slice(0, eq);
      const value = c.slice(eq + 1);
      const bad = validateLabelKey(key) ?? validateLabelValue(value);
      if (bad) problems.push(`invalid label "${c}": ${bad}`);
      else out.push({ op: 'set', key, value });
    } else if (c.endsWith('-')) {
      const key = c.slice(0, -1);
      const bad = validateLabelKey(key);
      if (bad) problems.push(`invalid label removal "${c}": ${bad}`);
      else out.push({ op: 'remove', key });
    } else {
      problems.push(`invalid label change "${c}": expected key=value or key-`);
    }
  }
  const keys = out.map((c) => c.key);
  const dup = keys.find((k, i) => keys.indexOf(k) !== i);
  if (dup !== undefined) problems.push(`label key "${dup}" is given more than once`);
  if (problems.length) throw new TesseraError('usage', problems.join('\n'));
  return out;
}

export async function labelVerb(args: LabelArgs, deps: VerbDeps): Promise<number> {
  const info = resolveKind(args.kind);
  const ref = parseNameArg(args.name, info, args.namespace);
  const changes = parseLabelChanges(args.changes);
  const store = await deps.store();
  const absent: string[] = [];
  const { changed } = await modifyWithRetry(store, ref, 'label', (current) => {
    absent.length = 0;
    const labels = { ...(current.metadata.labels ?? {}) };
    let changed = false;
    for (const c of changes) {
      const had = Object.prototype.hasOwnProperty.call(labels, c.key);
      if (c.op === 'remove') {
        if (!had) absent.push(c.key);
        else {
          delete labels[c.key];
          changed = true;
        }
        continue;
      }
      if (had && labels[c.key] === c.value) continue;
      if (had && !args.overwrite) {
        throw new TesseraError(
          'validation',
          `cannot label ${describeRef(ref)}: "${c.key}" already has value "${labels[c.key]}", and --overwrite is not set`,
        );
      }
      labels[c.key] = c.value;
      changed = true;
    }
    if (!changed) return undefined;
    const metadata: ObjectMeta = { ...current.metadata, labels };
    if (Object.keys(labels).length === 0) delete metadata.labels;
    return { ...current, metadata };
  });
  for (const k of absent) deps.io.err(`label "${k}" not found on ${describeRef(ref)}\n`);
  const id = info.namespaced ? `${ref.namespace}/${ref.name}` : ref.name;
  deps.io.out(`${cliKindName(info)}/${id} ${changed ? 'labeled' : 'not labeled'}\n`);
  return 0;
}
