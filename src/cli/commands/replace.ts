/**
 * `tessera replace -f [--skip-not-exists]`: overwrite existing objects with compare-and-swap. The
 * revision compared is the manifest's `metadata.resourceVersion` when it has one (so a stale copy
 * is refused with a conflict), else the one just read.
 */
import { TesseraError } from '../../lib/errors.js';
import type { VerbDeps } from '../io.js';
import { existingFor, kindPhrase, loadManifests, validateAll, withStatusOf, withoutStatus } from '../manifests.js';
import { describeRef } from '../store.js';

export interface ReplaceArgs {
  files: string[];
  namespace?: string | undefined;
  skipNotExists?: boolean | undefined;
}

export async function replaceVerb(args: ReplaceArgs, deps: VerbDeps): Promise<number> {
  const batch = await loadManifests(args.files, deps.io, { namespace: args.namespace, defaults: true });
  const store = await deps.store();
  for (const l of batch) l.resource = withoutStatus(l.resource);
  validateAll(batch, await existingFor(batch, store, { withReplaced: true }), 'replace', (t) => deps.io.err(t));
  const current = await Promise.all(batch.map((l) => store.get(l.ref)));
  const missing = batch.filter((_, i) => current[i] === undefined);
  if (missing.length && !args.skipNotExists) {
    for (const l of missing) deps.io.err(`Failed to replace ${describeRef(l.ref)}: resource does not exist\n`);
    deps.io.err(`Nothing was replaced (use --skip-not-exists to replace only the existing ones)\n`);
    return 1;
  }
  let done = 0;
  for (const [i, l] of batch.entries()) {
    const cur = current[i];
    if (cur === undefined) continue;
    const resourceVersion = l.resource.metadata.resourceVersion ?? cur.metadata.resourceVersion;
    try {
      const next = withStatusOf(l.resource, cur);
      await store.update({ ...next, metadata: { ...next.metadata, resourceVersion } });
      done++;
    } catch (err) {
      if (done > 0) deps.io.err(`Partial success: replaced the first ${done} resource(s)\n`);
      throw new TesseraError(
        err instanceof TesseraError ? err.code : 'unavailable',
        `cannot replace ${describeRef(l.ref)}${resourceVersion ? ` at resourceVersion "${resourceVersion}"` : ''}`,
        { cause: err },
      );
    }
  }
  const skipped = missing.length;
  const note = skipped ? ` (skipped ${skipped} that did not exist)` : '';
  deps.io.out(`Successfully replaced ${done} ${kindPhrase(batch.map((l) => l.info))}${note}\n`);
  return 0;
}
