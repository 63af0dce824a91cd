/**
 * `tessera apply -f`: create-or-update every document in ONE atomic batch. Every document is
 * validated (alone and as a batch against the datastore) before anything is written, so a bad
 * document in a multi-document file leaves the datastore exactly as it was.
 */
import type { VerbDeps } from '../io.js';
import { existingFor, kindPhrase, loadManifests, validateAll } from '../manifests.js';

export interface ApplyArgs {
  files: string[];
  namespace?: string;
}

export async function applyVerb(args: ApplyArgs, deps: VerbDeps): Promise<number> {
  const batch = await loadManifests(args.files, deps.io, { namespace: args.namespace, defaults: true });
  const store = await deps.store();
  validateAll(batch, await existingFor(batch, store, { withReplaced: true }), 'apply');
  await store.applyBatch(batch.map((l) => l.resource));
  deps.io.out(`Successfully applied ${batch.length} ${kindPhrase(batch.map((l) => l.info))}\n`);
  return 0;
}
