/**
 * `-f` handling shared by apply/create/replace/delete/get/validate: read, parse, default, and
 * validate every document before anything is written.
 */
import type { KindInfo, Problem, Resource } from '../api/index.js';
import { applyDefaults, kindFor, parseManifests, validateBatch, validateResource } from '../api/index.js';
import { TesseraError, isTesseraError } from '../lib/errors.js';
import { readSources, type CliIO } from './io.js';
import { describeRef, refOf, type CliStore, type ResourceRef } from './store.js';

export interface LoadedResource {
  resource: Resource;
  info: KindInfo;
  ref: ResourceRef;
  /** File the document came from, for messages. */
  source: string;
}

export interface LoadOptions {
  /** `-n`: namespace for namespaced documents that name none. */
  namespace?: string;
  /** Fill defaults (apply/create/replace/validate); get/delete only need identities. */
  defaults: boolean;
}

/** Reads and parses every `-f` source; fails on unknown kinds and namespace clashes. */
export async function loadManifests(paths: string[], io: CliIO, opts: LoadOptions): Promise<LoadedResource[]> {
  if (paths.length === 0) throw new TesseraError('usage', 'no manifests given: use -f FILE|DIR|-');
  const sources = await readSources(paths, io);
  const out: LoadedResource[] = [];
  const problems: string[] = [];
  for (const { source, text } of sources) {
    let docs: Resource[];
    try {
      docs = parseManifests(text, source);
    } catch (err) {
      if (isTesseraError(err, 'validation')) throw prefixed(err, source);
      throw err;
    }
    for (const doc of docs) {
      const info = kindFor(doc.apiVersion, doc.kind);
      if (!info) {
        problems.push(`${source}: unknown kind "${doc.kind}" in apiVersion "${doc.apiVersion}"`);
        continue;
      }
      let r: Resource = { ...doc, metadata: { ...doc.metadata } };
      if (info.namespaced) {
        const ns = r.metadata.namespace;
        if (ns !== undefined && opts.namespace !== undefined && ns !== opts.namespace) {
          throw new TesseraError(
            'usage',
            `${source}: ${info.kind} "${r.metadata.name}" is in namespace "${ns}", which does not match -n "${opts.namespace}"`,
          );
        }
        r.metadata.namespace = ns ?? opts.namespace ?? 'default';
      }
      if (opts.defaults) r = applyDefaults(r);
      out.push({ resource: r, info, ref: refOf(info, r), source });
    }
  }
  if (problems.length) {
    throw new TesseraError('validation', problems.join('\n'), {
      problems: problems.map((m) => ({ path: '', message: m })),
    });
  }
  if (out.length === 0) throw new TesseraError('usage', `no resources found in ${paths.map((p) => `"${p}"`).join(', ')}`);
  return out;
}

function prefixed(err: TesseraError, source: string): TesseraError {
  const msg = err.message.startsWith(source) ? err.message : `${source}: ${err.message}`;
  return new TesseraError('validation', msg, { cause: err, problems: err.problems });
}

function line(l: LoadedResource, p: Problem): string {
  return `${l.source}: ${describeRef(l.ref)}: ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

export function sameRef(a: ResourceRef, b: ResourceRef): boolean {
  return a.info === b.info && a.name === b.name && (a.namespace ?? '') === (b.namespace ?? '');
}

/** The kinds validateBatch may consult besides those in the batch (tier existence, pool overlap). */
function contextKinds(batch: Pick<LoadedResource, 'info'>[]): KindInfo[] {
  const kinds = new Set<KindInfo>(batch.map((l) => l.info));
  for (const name of ['Tier', 'IPPool']) {
    const info = kindFor('projectcalico.org/v3', name);
    if (info) kinds.add(info);
  }
  return [...kinds];
}

/**
 * Existing datastore objects a batch is validated against. With `withReplaced`, the current
 * versions of the objects the batch rewrites are included too (validateBatch treats them as the
 * old version: fields fixed at creation are checked against them); `create` leaves them out.
 */
export async function existingFor(
  batch: Pick<LoadedResource, 'info' | 'ref'>[],
  store: CliStore,
  options: { withReplaced?: boolean } = {},
): Promise<Resource[]> {
  const lists = await Promise.all(contextKinds(batch).map((info) => store.list(info)));
  const existing: Resource[] = [];
  for (const [i, info] of contextKinds(batch).entries()) {
    for (const r of lists[i] ?? []) {
      if (options.withReplaced || !batch.some((l) => sameRef(l.ref, refOf(info, r)))) existing.push(r);
    }
  }
  return existing;
}

/**
 * Validates every document and the batch as a whole; throws one `validation` error listing every
 * problem (one line each, with file, object and field path) so nothing is written.
 */
export function validateAll(batch: LoadedResource[], existing: Resource[], action: string): void {
  const lines: string[] = [];
  const problems: Problem[] = [];
  for (const l of batch) {
    for (const p of validateResource(l.resource)) {
      lines.push(line(l, p));
      problems.push({ path: p.path, message: `${describeRef(l.ref)}: ${p.message}` });
    }
  }
  for (const p of validateBatch(
    batch.map((l) => l.resource),
    { existing },
  )) {
    // validateBatch names documents `[doc N]` (1-based in the batch); add the file it came from.
    const doc = /^\[doc (\d+)\]/.exec(p.path);
    const src = doc ? batch[Number(doc[1]) - 1]?.source : undefined;
    const where = p.path ? `${src ? `${src}: ` : ''}${p.path}: ` : '';
    lines.push(`${where}${p.message}`);
    problems.push(p);
  }
  if (lines.length) {
    const n = batch.length;
    throw new TesseraError(
      'validation',
      `cannot ${action} ${n} resource(s): ${lines.length} problem(s), nothing was written\n${lines.map((l) => `  ${l}`).join('\n')}`,
      { problems },
    );
  }
}

/** calicoctl's summary: `'IPPool' resource(s)` when every object is one kind, else `resource(s)`. */
export function kindPhrase(infos: KindInfo[]): string {
  const kinds = new Set(infos.map((i) => i.kind));
  return kinds.size === 1 ? `'${[...kinds][0]}' resource(s)` : 'resource(s)';
}
