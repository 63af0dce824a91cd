/**
 * `tessera patch KIND NAME -p PATCH`: a JSON merge patch (RFC 7386; YAML accepted too) applied
 * with CAS and bounded retry. The result is validated like `apply` before it is written; identity
 * fields (apiVersion, kind, name, namespace) cannot be patched.
 */
import { parse as parseYaml } from 'yaml';
import type { Resource } from '../../api/index.js';
import { applyDefaults, validateBatch, validateResource } from '../../api/index.js';
import { TesseraError } from '../../lib/errors.js';
import { modifyWithRetry } from '../cas.js';
import type { VerbDeps } from '../io.js';
import { existingFor, withStatusOf, withoutStatus } from '../manifests.js';
import { parseNameArg, resolveKind } from '../refs.js';
import { describeRef } from '../store.js';

export interface PatchArgs {
  kind: string;
  name: string;
  patch: string;
  namespace?: string | undefined;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** RFC 7386: objects merge recursively, `null` removes a member, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return patch;
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export function parsePatch(text: string): Record<string, Json> {
  let v: unknown;
  try {
    v = parseYaml(text);
  } catch (err) {
    throw new TesseraError('usage', `cannot parse patch ${JSON.stringify(text)}: not JSON or YAML`, { cause: err });
  }
  if (!isObject(v)) throw new TesseraError('usage', `patch ${JSON.stringify(text)} must be a JSON object`);
  return v as Record<string, Json>;
}

export async function patchVerb(args: PatchArgs, deps: VerbDeps): Promise<number> {
  const info = resolveKind(args.kind);
  const ref = parseNameArg(args.name, info, args.namespace);
  const patch = parsePatch(args.patch);
  const store = await deps.store();
  const where = describeRef(ref);
  // Other objects the result is checked against (tier exists, pool overlap); not re-read on retry:
  // a race there is no worse than two concurrent applies.
  const existing = await existingFor([{ info, ref }], store);
  await modifyWithRetry(store, ref, 'patch', (current) => {
    const patched = mergePatch(current, patch) as Resource;
    const idBefore = [current.apiVersion, current.kind, current.metadata.name, current.metadata.namespace];
    const idAfter = [patched.apiVersion, patched.kind, patched.metadata?.name, patched.metadata?.namespace];
    if (idBefore.some((v, i) => v !== idAfter[i])) {
      throw new TesseraError('usage', `cannot patch ${where}: apiVersion, kind, name and namespace cannot change`);
    }
    // Status is Tessera's own: validated without it, written back as stored (a patch of it is ignored).
    const next = withoutStatus(applyDefaults(patched));
    const problems = [...validateResource(next), ...validateBatch([next], { existing: [...existing, current] })];
    if (problems.length) {
      const lines = problems.map((p) => `  ${p.path ? `${p.path}: ` : ''}${p.message}`).join('\n');
      throw new TesseraError(
        'validation',
        `cannot patch ${where}: the result is invalid, nothing was written\n${lines}`,
        {
          problems,
        },
      );
    }
    return withStatusOf(next, current);
  });
  if ('status' in patch) deps.io.err(`note: status is written by Tessera; the patch's "status" was ignored\n`);
  deps.io.out(`Successfully patched 1 '${info.kind}' resource\n`);
  return 0;
}
