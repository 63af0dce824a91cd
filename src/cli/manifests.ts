/**
 * `-f` handling shared by apply/create/replace/delete/get/validate: read, parse, default, and
 * validate every document before anything is written.
 */
import type { KindInfo, Problem, Resource } from '../api/index.js';
import {
  applyDefaults,
  kindFor,
  parseManifests,
  storedOnlyFields,
  validateBatch,
  validateResource,
} from '../api/index.js';
import { TesseraError, isTesseraError } from '../lib/errors.js';
import { readSources, type CliIO } from './io.js';
import { describeRef, refOf, type CliStore, type ResourceRef } from './store.js';

export interface LoadedResource {
  resource: Resource;
  info: KindInfo;
  ref: ResourceRef;
  /** File the document came from, for messages. */
  source: string;
  /** 1-based position of the document in its file (`[doc N]` in messages). */
  doc: number;
  /** Fields the document sets (as written, before defaults) that Tessera stores but does not act on. */
  storedOnly: { path: string; why: string }[];
}

export interface LoadOptions {
  /** `-n`: namespace for namespaced documents that name none. */
  namespace?: string | undefined;
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
    let docInFile = 0;
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
      const storedOnly = storedOnlyFields(doc);
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
      out.push({ resource: r, info, ref: refOf(info, r), source, doc: ++docInFile, storedOnly });
    }
  }
  if (problems.length) {
    throw new TesseraError('validation', problems.join('\n'), {
      problems: problems.map((m) => ({ path: '', message: m })),
    });
  }
  if (out.length === 0)
    throw new TesseraError('usage', `no resources found in ${paths.map((p) => `"${p}"`).join(', ')}`);
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
 * problem (one line each, with file, object and field path) so nothing is written. When all is
 * valid, `warn` hears of every stored-only field a document sets.
 */
export function validateAll(
  batch: LoadedResource[],
  existing: Resource[],
  action: string,
  warn?: (text: string) => void,
): void {
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
    // validateBatch names documents `[doc N]` (1-based in the whole batch); say the file and the
    // document's number within that file instead.
    const doc = /^\[doc (\d+)\]/.exec(p.path);
    const l = doc ? batch[Number(doc[1]) - 1] : undefined;
    const path = l ? p.path.replace(/^\[doc \d+\]/, `[doc ${l.doc}]`) : p.path;
    const where = path ? `${l ? `${l.source}: ` : ''}${path}: ` : '';
    lines.push(`${where}${p.message}`);
    problems.push({ ...p, path });
  }
  if (lines.length) {
    const n = batch.length;
    throw new TesseraError(
      'validation',
      `cannot ${action} ${n} resource(s): ${lines.length} problem(s), nothing was written\n${lines.map((l) => `  ${l}`).join('\n')}`,
      { problems },
    );
  }
  // Accepted, but worth a word: Calico's API has these fields and Tessera stores them, yet does
  // not act on them (src/api/stored-only.ts).
  for (const l of batch) {
    for (const f of l.storedOnly) {
      warn?.(
        `Warning: ${l.source}: ${describeRef(l.ref)}: ${f.path} is stored but has no effect in Tessera: ${f.why}\n`,
      );
    }
  }
}

/** calicoctl's summary: `'IPPool' resource(s)` when every object is one kind, else `resource(s)`. */
export function kindPhrase(infos: KindInfo[]): string {
  const kinds = new Set(infos.map((i) => i.kind));
  return kinds.size === 1 ? `'${[...kinds][0]}' resource(s)` : 'resource(s)';
}

/**
 * Status is Tessera's to write (the agent's Node and CalicoNodeStatus status, ...). As in Calico, a
 * user's apply/replace/patch does not change it: the user's copy is dropped before validation and
 * the stored status is written back unchanged.
 */
export function withoutStatus(r: Resource): Resource {
  // Kubernetes kinds (Pod status.podIP) are mirrored input here, not Tessera's output.
  if (!('status' in r) || r.apiVersion !== 'projectcalico.org/v3') return r;
  const { status: _ignored, ...rest } = r as Resource & { status?: unknown };
  return rest as Resource;
}

export function withStatusOf(r: Resource, current: Resource | undefined): Resource {
  if (r.apiVersion !== 'projectcalico.org/v3') return r;
  const status = (current as (Resource & { status?: unknown }) | undefined)?.status;
  const base = withoutStatus(r);
  return status === undefined ? base : ({ ...base, status } as Resource);
}

const SERVER_META = new Set(['resourceVersion', 'uid', 'creationTimestamp', 'generation', 'managedFields']);

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = canonical(x);
    }
    return out;
  }
  return v;
}

/** True when writing `next` over `current` would change nothing a user controls (a no-op). */
export function sameUserContent(next: Resource, current: Resource): boolean {
  const strip = (r: Resource) => {
    const meta: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r.metadata)) if (!SERVER_META.has(k)) meta[k] = v;
    if (meta['labels'] && Object.keys(meta['labels'] as object).length === 0) delete meta['labels'];
    if (meta['annotations'] && Object.keys(meta['annotations'] as object).length === 0) delete meta['annotations'];
    return canonical({ ...withoutStatus(r), metadata: meta });
  };
  return JSON.stringify(strip(next)) === JSON.stringify(strip(current));
}

/** The stored object a loaded document refers to, among `existing`. */
export function currentOf(l: Pick<LoadedResource, 'info' | 'ref'>, existing: Resource[]): Resource | undefined {
  return existing.find(
    (r) => r.apiVersion === l.info.apiVersion && r.kind === l.info.kind && sameRef(refOf(l.info, r), l.ref),
  );
}

/**
 * A document carrying a resourceVersion that is no longer the stored one was read before someone
 * else changed (or deleted) the object: refuse it, as Calico and kubectl do, rather than overwrite.
 */
export function staleError(batch: LoadedResource[], existing: Resource[], action: string): TesseraError | undefined {
  const lines: string[] = [];
  for (const l of batch) {
    const rv = l.resource.metadata.resourceVersion;
    if (rv === undefined || rv === '') continue;
    const cur = currentOf(l, existing);
    if (cur && cur.metadata.resourceVersion === rv) continue;
    lines.push(
      cur
        ? `${l.source}: ${describeRef(l.ref)}: the resource was modified since it was read (resourceVersion "${rv}", now "${cur.metadata.resourceVersion}"); get it again and re-apply your change`
        : `${l.source}: ${describeRef(l.ref)}: the resource was deleted since it was read (resourceVersion "${rv}"); remove metadata.resourceVersion to create it again`,
    );
  }
  if (lines.length === 0) return undefined;
  return new TesseraError(
    'conflict',
    lines.length === 1
      ? `cannot ${action}: ${lines[0]}`
      : `cannot ${action}: nothing was written\n${lines.map((x) => `  ${x}`).join('\n')}`,
  );
}
