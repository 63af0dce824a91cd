/**
 * `tessera create -f [--skip-exists]`: like calicoctl, fails on objects that already exist. All
 * documents are validated and checked for existence first, so the usual failures write nothing;
 * only a concurrent writer racing us can leave a partial result, which is then reported as such.
 */
import { isTesseraError } from '../../lib/errors.js';
import type { VerbDeps } from '../io.js';
import { existingFor, kindPhrase, loadManifests, validateAll } from '../manifests.js';
import { describeRef } from '../store.js';

export interface CreateArgs {
  files: string[];
  namespace?: string | undefined;
  skipExists?: boolean | undefined;
}

export async function createVerb(args: CreateArgs, deps: VerbDeps): Promise<number> {
  const batch = await loadManifests(args.files, deps.io, { namespace: args.namespace, defaults: true });
  const store = await deps.store();
  validateAll(batch, await existingFor(batch, store), 'create', (t) => deps.io.err(t));
  const present = await Promise.all(batch.map((l) => store.get(l.ref)));
  const clashes = batch.filter((_, i) => present[i] !== undefined);
  if (clashes.length && !args.skipExists) {
    for (const l of clashes) deps.io.err(`Failed to create ${describeRef(l.ref)}: resource already exists\n`);
    deps.io.err(`Nothing was created (use --skip-exists to create only the missing ones)\n`);
    return 1;
  }
  const todo = batch.filter((_, i) => present[i] === undefined);
  let done = 0;
  for (const l of todo) {
    try {
      await store.create(l.resource);
      done++;
    } catch (err) {
      if (args.skipExists && isTesseraError(err, 'already-exists')) continue;
      if (done > 0) deps.io.err(`Partial success: created the first ${done} out of ${todo.length} resource(s)\n`);
      throw err;
    }
  }
  const skipped = batch.length - todo.length;
  const note = skipped ? ` (skipped ${skipped} that already existed)` : '';
  deps.io.out(`Successfully created ${batch.length - skipped} ${kindPhrase(batch.map((l) => l.info))}${note}\n`);
  return 0;
}
