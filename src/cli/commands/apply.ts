/**
 * `tessera apply -f`: create-or-update every document in ONE atomic batch. Every document is
 * validated (alone and as a batch against the datastore) before anything is written, so a bad
 * document in a multi-document file leaves the datastore exactly as it was.
 */
import { TesseraError, isTesseraError } from '../../lib/errors.js';
import type { VerbDeps } from '../io.js';
import {
  currentOf,
  existingFor,
  kindPhrase,
  loadManifests,
  sameUserContent,
  staleError,
  validateAll,
  withStatusOf,
  withoutStatus,
} from '../manifests.js';

export interface ApplyArgs {
  files: string[];
  namespace?: string | undefined;
}

export async function applyVerb(args: ApplyArgs, deps: VerbDeps): Promise<number> {
  const batch = await loadManifests(args.files, deps.io, { namespace: args.namespace, defaults: true });
  const store = await deps.store();
  const existing = await existingFor(batch, store, { withReplaced: true });
  const stale = staleError(batch, existing, 'apply');
  if (stale) throw stale;
  for (const l of batch) l.resource = withoutStatus(l.resource);
  validateAll(batch, existing, 'apply', (t) => deps.io.err(t));
  // Unchanged objects are not rewritten: applying what `get -o yaml` printed is a no-op (the
  // datastore revision does not move, watchers see nothing). Status stays what Tessera wrote.
  const writes = batch.flatMap((l) => {
    const cur = currentOf(l, existing);
    return cur && sameUserContent(l.resource, cur) ? [] : [withStatusOf(l.resource, cur)];
  });
  if (writes.length > 0) {
    try {
      await store.applyBatch(writes);
    } catch (err) {
      // Someone wrote one of these objects between our read and our write.
      if (isTesseraError(err, 'conflict')) {
        throw new TesseraError(
          'conflict',
          'cannot apply: a resource was modified while applying; get it again and re-apply your change',
          {
            cause: err,
          },
        );
      }
      throw err;
    }
  }
  const unchanged = batch.length - writes.length;
  deps.io.out(
    `Successfully applied ${batch.length} ${kindPhrase(batch.map((l) => l.info))}${unchanged ? ` (${unchanged} unchanged)` : ''}\n`,
  );
  return 0;
}
