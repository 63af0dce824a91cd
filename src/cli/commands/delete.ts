/**
 * `tessera delete KIND NAME... | -f FILE [--skip-not-exists]`. Every named object is attempted;
 * a missing one is an error (exit 1) unless --skip-not-exists, as in calicoctl.
 */
import { TesseraError } from '../../lib/errors.js';
import type { VerbDeps } from '../io.js';
import { kindPhrase, loadManifests } from '../manifests.js';
import { parseNameArg, resolveKind } from '../refs.js';
import { describeRef, type ResourceRef } from '../store.js';

export interface DeleteArgs {
  kind?: string;
  names: string[];
  files: string[];
  namespace?: string;
  skipNotExists?: boolean;
}

export async function refsFromArgs(
  args: { kind?: string; names: string[]; files: string[]; namespace?: string },
  deps: VerbDeps,
  verb: string,
): Promise<ResourceRef[]> {
  if (args.files.length > 0) {
    if (args.kind !== undefined) throw new TesseraError('usage', `${verb}: give either -f or KIND NAME..., not both`);
    const loaded = await loadManifests(args.files, deps.io, { namespace: args.namespace, defaults: false });
    return loaded.map((l) => l.ref);
  }
  if (args.kind === undefined) throw new TesseraError('usage', `${verb}: give KIND NAME... or -f FILE`);
  const info = resolveKind(args.kind);
  return args.names.map((n) => parseNameArg(n, info, args.namespace));
}

export async function deleteVerb(args: DeleteArgs, deps: VerbDeps): Promise<number> {
  if (args.files.length === 0 && args.names.length === 0) {
    throw new TesseraError('usage', 'delete: give KIND NAME... or -f FILE');
  }
  const refs = await refsFromArgs(args, deps, 'delete');
  const store = await deps.store();
  let deleted = 0;
  let skipped = 0;
  let failed = 0;
  for (const ref of refs) {
    const gone = await store.delete(ref);
    if (gone !== undefined) deleted++;
    else if (args.skipNotExists) skipped++;
    else {
      failed++;
      deps.io.err(`Failed to delete ${describeRef(ref)}: resource does not exist\n`);
    }
  }
  if (deleted > 0 || failed === 0) {
    const note = skipped ? ` (skipped ${skipped} that did not exist)` : '';
    deps.io.out(`Successfully deleted ${deleted} ${kindPhrase(refs.map((r) => r.info))}${note}\n`);
  }
  return failed > 0 ? 1 : 0;
}
