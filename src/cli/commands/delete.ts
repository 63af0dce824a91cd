/**
 * `tessera delete KIND NAME... | -f FILE [--skip-not-exists]`. Every named object is attempted;
 * a missing one is an error (exit 1) unless --skip-not-exists, as in calicoctl.
 */
import { TesseraError } from '../../lib/errors.js';
import type { VerbDeps } from '../io.js';
import { kindPhrase, loadManifests } from '../manifests.js';
import { parseNameArg, resolveKind } from '../refs.js';
import { describeRef, type CliStore, type ResourceRef } from '../store.js';
import { isBuiltinTier, lookupKind } from '../../api/index.js';

/**
 * Deletes Calico refuses, or that would break a running cluster without a word:
 * - a Tier that still holds policies (they would go on enforcing under a tier that no longer
 *   exists, and could not be edited), or a built-in tier;
 * - an enabled IPPool that IPAM still allocates from: Calico's migration is to disable the pool
 *   first (`patch ippool NAME -p '{"spec":{"disabled":true}}'`), move the workloads, then delete.
 */
async function deleteRefusal(ref: ResourceRef, store: CliStore): Promise<string | undefined> {
  if (ref.info.apiVersion !== 'projectcalico.org/v3') return undefined;
  if (ref.info.kind === 'Tier') {
    if (isBuiltinTier(ref.name)) return `"${ref.name}" is a built-in tier and cannot be deleted`;
    const holders: string[] = [];
    for (const kind of ['GlobalNetworkPolicy', 'NetworkPolicy', 'StagedGlobalNetworkPolicy', 'StagedNetworkPolicy']) {
      const info = lookupKind(kind);
      if (!info || info.apiVersion !== 'projectcalico.org/v3') continue;
      for (const p of await store.list(info, undefined)) {
        if ((p.spec as { tier?: string } | undefined)?.tier === ref.name) {
          holders.push(`${kind} "${info.namespaced ? `${p.metadata.namespace ?? 'default'}/` : ''}${p.metadata.name}"`);
        }
      }
    }
    if (holders.length)
      return `the tier still has ${holders.length} polic${holders.length === 1 ? 'y' : 'ies'} (${holders.join(', ')}); delete them first`;
  }
  if (ref.info.kind === 'IPPool' && store.poolAddressesInUse) {
    const pool = await store.get(ref);
    if (!pool || (pool.spec as { disabled?: boolean } | undefined)?.disabled === true) return undefined;
    const inUse = await store.poolAddressesInUse(ref.name);
    if (inUse > 0) {
      return (
        `the pool still has ${inUse} allocated address(es); disable it first ` +
        `(tessera patch ippool ${ref.name} -p '{"spec":{"disabled":true}}'), move the workloads to another pool, then delete it`
      );
    }
  }
  return undefined;
}

export interface DeleteArgs {
  kind?: string | undefined;
  names: string[];
  files: string[];
  namespace?: string | undefined;
  skipNotExists?: boolean | undefined;
}

export async function refsFromArgs(
  args: { kind?: string | undefined; names: string[]; files: string[]; namespace?: string | undefined },
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
    const refusal = await deleteRefusal(ref, store);
    if (refusal) {
      failed++;
      deps.io.err(`Failed to delete ${describeRef(ref)}: ${refusal}\n`);
      continue;
    }
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
