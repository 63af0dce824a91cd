/**
 * parseManifests: YAML or JSON text → resources. Handles `---` streams, `kind: List` and typed
 * `<Kind>List` documents with `items`, and skips empty documents. Only syntax and the envelope are
 * checked here (object documents with apiVersion and kind); field validation is validateResource.
 */
import { LineCounter, parseAllDocuments } from 'yaml';
import { TesseraError, type Problem } from '../lib/errors.js';
import type { Resource } from './resource.js';
import { isRecord, quote } from './validate/shape.js';

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return `a ${typeof v} (${quote(v)})`;
}

/**
 * Parses one or more manifests. Throws TesseraError('validation') naming the source and line on a
 * syntax error, a non-object document, or a document without apiVersion/kind (problem paths
 * `apiVersion` / `kind`, messages naming the document).
 */
export function parseManifests(text: string, source = '<input>'): Resource[] {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [docs];
  const out: Resource[] = [];
  const problems: Problem[] = [];
  list.forEach((doc, i) => {
    const where = (offset: number | undefined) => {
      const pos = lineCounter.linePos(offset ?? 0);
      return `${source}: document ${i + 1} (line ${pos.line})`;
    };
    const err = doc.errors[0];
    if (err) {
      const pos = lineCounter.linePos(err.pos[0]);
      const message = `${source}: line ${pos.line}, column ${pos.col}: invalid YAML: ${err.message.split('\n')[0]}`;
      throw new TesseraError('validation', message, { cause: err, problems: [{ path: '', message }] });
    }
    if (doc.contents === null) return;
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) return;
    const at = where(doc.contents.range?.[0]);
    if (!isRecord(value)) {
      problems.push({ path: '', message: `${at} is ${describe(value)}, not a resource object` });
      return;
    }
    collect(value, at, problems, out, undefined);
  });
  if (problems.length > 0) {
    const lines = problems.map((p) => `  ${p.message}`).join('\n');
    throw new TesseraError('validation', `${source}: not every document is a resource:\n${lines}`, { problems });
  }
  return out;
}

function collect(
  value: Record<string, unknown>,
  at: string,
  problems: Problem[],
  out: Resource[],
  inherit: { apiVersion: string; kind: string } | undefined,
): void {
  const apiVersion = value.apiVersion ?? inherit?.apiVersion;
  const kind = value.kind ?? inherit?.kind;
  let ok = true;
  if (typeof apiVersion !== 'string' || apiVersion === '') {
    problems.push({ path: 'apiVersion', message: `${at}: apiVersion is required` });
    ok = false;
  }
  if (typeof kind !== 'string' || kind === '') {
    problems.push({ path: 'kind', message: `${at}: kind is required` });
    ok = false;
  }
  if (!ok) return;
  const k = kind as string;
  if (k.endsWith('List') && Array.isArray(value.items)) {
    // A typed list (`IPPoolList`) lends its items their kind; a plain `List` does not.
    const itemInherit = k === 'List' ? undefined : { apiVersion: apiVersion as string, kind: k.slice(0, -4) };
    value.items.forEach((item, j) => {
      const itemAt = `${at} items[${j}]`;
      if (!isRecord(item)) {
        problems.push({ path: `items[${j}]`, message: `${itemAt} is ${describe(item)}, not a resource object` });
        return;
      }
      collect(item, itemAt, problems, out, itemInherit);
    });
    return;
  }
  out.push({ ...value, apiVersion, kind } as unknown as Resource);
}
