/**
 * `tessera get KIND [NAME...] | -f FILE [-n NS | -A] [-o yaml|json|wide|name]`.
 * Named objects that do not exist are reported on stderr (exit 1); the found ones still print.
 */
import { TesseraError } from '../../lib/errors.js';
import { formatResources, renderTable, columnsFor, type OutputFormat } from '../format.js';
import type { VerbDeps } from '../io.js';
import { resolveKind } from '../refs.js';
import { describeRef } from '../store.js';
import type { Resource } from '../../api/index.js';
import { refsFromArgs } from './delete.js';
import { virtualResources, withVirtual } from '../virtual.js';

export interface GetArgs {
  kind?: string | undefined;
  names: string[];
  files: string[];
  namespace?: string | undefined;
  allNamespaces?: boolean | undefined;
  output: OutputFormat;
}

function byNamespaceThenName(a: Resource, b: Resource): number {
  const na = a.metadata.namespace ?? '';
  const nb = b.metadata.namespace ?? '';
  if (na !== nb) return na < nb ? -1 : 1;
  return a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0;
}

export async function getVerb(args: GetArgs, deps: VerbDeps): Promise<number> {
  if (args.allNamespaces && args.namespace !== undefined) {
    throw new TesseraError('usage', 'get: -n and -A cannot be used together');
  }
  const listing = args.files.length === 0 && args.names.length === 0;
  if (listing) {
    if (args.kind === undefined) throw new TesseraError('usage', 'get: give KIND [NAME...] or -f FILE');
    const info = resolveKind(args.kind);
    const store = await deps.store();
    const ns = info.namespaced && !args.allNamespaces ? (args.namespace ?? 'default') : undefined;
    const items = (await withVirtual(info, store, await store.list(info, ns))).sort(byNamespaceThenName);
    const showNamespace = info.namespaced && args.allNamespaces === true;
    if (items.length === 0 && (args.output === 'table' || args.output === 'wide')) {
      const headers = [...(showNamespace ? ['NAMESPACE'] : []), 'NAME'];
      deps.io.out(renderTable([...headers, ...columnsFor(info, args.output === 'wide').map((c) => c.header)], []));
      return 0;
    }
    deps.io.out(formatResources(items, { format: args.output, showNamespace, kind: info }));
    return 0;
  }
  if (args.allNamespaces) throw new TesseraError('usage', 'get: -A applies only when listing a kind');
  const refs = await refsFromArgs(args, deps, 'get');
  const store = await deps.store();
  const found = await Promise.all(
    refs.map(
      async (r) =>
        (await store.get(r)) ??
        (await virtualResources(r.info, store)).find((v) => v.metadata.name === r.name && !r.info.namespaced),
    ),
  );
  const items: Resource[] = [];
  let missing = 0;
  for (const [i, r] of found.entries()) {
    if (r) items.push(r);
    else {
      missing++;
      deps.io.err(`Failed to get ${describeRef(refs[i]!)}: resource does not exist\n`);
    }
  }
  if (items.length > 0) {
    const showNamespace = new Set(items.map((r) => r.metadata.namespace ?? '')).size > 1;
    deps.io.out(formatResources(items, { format: args.output, showNamespace, single: refs.length === 1 }));
  }
  return missing > 0 ? 1 : 0;
}
