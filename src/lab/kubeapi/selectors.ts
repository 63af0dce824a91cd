/**
 * Kubernetes label selectors (equality- and set-based) and field selectors, as the API server
 * parses them from `labelSelector=` / `fieldSelector=` (pure).
 */
export type LabelRequirement =
  { key: string; op: 'exists' | 'not-exists' } | { key: string; op: 'in' | 'notin'; values: string[] };

export type FieldRequirement = { field: string; op: 'eq' | 'ne'; value: string };

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string };

const KEY_RE = /^([a-z0-9A-Z]([-a-z0-9A-Z.]{0,251}[a-z0-9A-Z])?\/)?[a-zA-Z0-9]([-a-zA-Z0-9_.]{0,61}[a-zA-Z0-9])?$/;
const VALUE_RE = /^(|[a-zA-Z0-9]([-a-zA-Z0-9_.]{0,61}[a-zA-Z0-9])?)$/;

/** Splits at commas that are not inside parentheses. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

export function parseLabelSelector(text: string): ParseResult<LabelRequirement[]> {
  const reqs: LabelRequirement[] = [];
  if (text.trim() === '') return { ok: true, value: reqs };
  for (const raw of splitTop(text)) {
    const part = raw.trim();
    const fail = (why: string): ParseResult<LabelRequirement[]> => ({
      ok: false,
      error: `unable to parse requirement "${part}": ${why}`,
    });
    if (part === '') return fail('empty requirement');
    let m = /^!\s*(\S+)$/.exec(part);
    if (m) {
      if (!KEY_RE.test(m[1]!)) return fail(`invalid label key "${m[1]}"`);
      reqs.push({ key: m[1]!, op: 'not-exists' });
      continue;
    }
    m = /^(\S+?)\s+(in|notin)\s*\(([^()]*)\)$/.exec(part);
    if (m) {
      const values = m[3]!.split(',').map((v) => v.trim());
      if (!KEY_RE.test(m[1]!)) return fail(`invalid label key "${m[1]}"`);
      const bad = values.find((v) => !VALUE_RE.test(v));
      if (bad !== undefined) return fail(`invalid label value "${bad}"`);
      reqs.push({ key: m[1]!, op: m[2] as 'in' | 'notin', values });
      continue;
    }
    m = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part);
    if (m) {
      if (!KEY_RE.test(m[1]!)) return fail(`invalid label key "${m[1]}"`);
      if (!VALUE_RE.test(m[3]!)) return fail(`invalid label value "${m[3]}"`);
      reqs.push({ key: m[1]!, op: m[2] === '!=' ? 'notin' : 'in', values: [m[3]!] });
      continue;
    }
    if (/^\S+$/.test(part)) {
      if (!KEY_RE.test(part)) return fail(`invalid label key "${part}"`);
      reqs.push({ key: part, op: 'exists' });
      continue;
    }
    return fail('expected "key", "!key", "key=value", "key!=value", "key in (...)" or "key notin (...)"');
  }
  return { ok: true, value: reqs };
}

export function matchLabels(
  reqs: readonly LabelRequirement[],
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  const l = labels ?? {};
  for (const r of reqs) {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    switch (r.op) {
      case 'exists':
        if (!has) return false;
        break;
      case 'not-exists':
        if (has) return false;
        break;
      case 'in':
        if (!has || !r.values.includes(l[r.key]!)) return false;
        break;
      case 'notin':
        if (has && r.values.includes(l[r.key]!)) return false;
        break;
    }
  }
  return true;
}

/** Fields every kind supports, plus per-kind extras (as the real API server allows). */
const FIELDS_BY_KIND: Record<string, string[]> = {
  Pod: [
    'spec.nodeName',
    'spec.restartPolicy',
    'spec.schedulerName',
    'spec.serviceAccountName',
    'status.phase',
    'status.podIP',
    'status.nominatedNodeName',
  ],
  Node: ['spec.unschedulable'],
  Namespace: ['status.phase'],
  Event: [
    'involvedObject.kind',
    'involvedObject.namespace',
    'involvedObject.name',
    'involvedObject.uid',
    'involvedObject.apiVersion',
    'involvedObject.resourceVersion',
    'involvedObject.fieldPath',
    'reason',
    'reportingComponent',
    'source',
    'type',
  ],
};

export function parseFieldSelector(text: string, kind: string): ParseResult<FieldRequirement[]> {
  const reqs: FieldRequirement[] = [];
  if (text.trim() === '') return { ok: true, value: reqs };
  const allowed = ['metadata.name', 'metadata.namespace', ...(FIELDS_BY_KIND[kind] ?? [])];
  for (const raw of text.split(',')) {
    const part = raw.trim();
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!m) return { ok: false, error: `invalid field selector "${part}": expected "field=value" or "field!=value"` };
    const field = m[1]!.trim();
    if (!allowed.includes(field)) return { ok: false, error: `field label not supported: ${field}` };
    reqs.push({ field, op: m[2] === '!=' ? 'ne' : 'eq', value: m[3]!.trim() });
  }
  return { ok: true, value: reqs };
}

function fieldValue(obj: unknown, path: string): string {
  let cur: unknown = obj;
  for (const p of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[p];
  }
  if (cur === undefined || cur === null) return '';
  return typeof cur === 'string' ? cur : String(cur);
}

export function matchFields(reqs: readonly FieldRequirement[], obj: unknown): boolean {
  return reqs.every((r) => (fieldValue(obj, r.field) === r.value) === (r.op === 'eq'));
}
