/** `tessera validate -f FILE`: the checks apply makes, without a datastore. */
import type { VerbDeps } from '../io.js';
import { kindPhrase, loadManifests, validateAll } from '../manifests.js';

export interface ValidateArgs {
  files: string[];
  namespace?: string | undefined;
}

export async function validateVerb(args: ValidateArgs, deps: VerbDeps): Promise<number> {
  const batch = await loadManifests(args.files, deps.io, { namespace: args.namespace, defaults: true });
  validateAll(batch, [], 'validate', (t) => deps.io.err(t));
  deps.io.out(`Successfully validated ${batch.length} ${kindPhrase(batch.map((l) => l.info))}\n`);
  return 0;
}
