/**
 * PATCH bodies as the API server applies them (pure): JSON merge patch (RFC 7386), JSON patch
 * (RFC 6902) and strategic merge patch. The strategic merge is the subset kubectl sends for the
 * kinds served here: maps merge, `null` deletes, lists with a known merge key merge by that key
 * (containers by name, ...), other lists replace; the `$patch`, `$retainKeys`,
 * `$setElementOrder/` and `$deleteFromPrimitiveList/` directives are honoured or dropped.
 */
export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

export class PatchError extends Error {
  constructor(
    message: string,
    readonly status: 400 | 422 = 422,
  ) {
    super(message);
    this.name = 'PatchError';
  }
}

function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function mergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k] ?? null, v);
  }
  return out;
}

/** Merge keys of the list fields served kinds carry (Kubernetes' patchMergeKey tags). */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  ports: 'containerPort',
  conditions: 'type',
  ownerReferences: 'uid',
  imagePullSecrets: 'name',
  hostAliases: 'ip',
  podIPs: 'ip',
  addresses: 'type',
  secrets: 'name',
};

/** Primitive lists that merge as sets (patchStrategy merge). */
const MERGED_PRIMITIVE_LISTS = new Set(['finalizers']);

function stripDirectives(v: Json): Json {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isObject(v)) return v;
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v)) {
    if (k.startsWith('$')) continue;
    out[k] = stripDirectives(x);
  }
  return out;
}

function mergeList(field: string, target: Json[], patch: Json[]): Json[] {
  const key = MERGE_KEYS[field];
  if (MERGED_PRIMITIVE_LISTS.has(field)) {
    const out = [...target];
    for (const p of patch) if (!out.some((t) => JSON.stringify(t) === JSON.stringify(p))) out.push(p);
    return out;
  }
  if (!key || !patch.every(isObject)) {
    if (patch.some((p) => isObject(p) && p['$patch'] === 'replace'))
      return patch.filter((p) => !(isObject(p) && '$patch' in p)).map(stripDirectives);
    return patch.map(stripDirectives);
  }
  const out: Json[] = [...target];
  for (const p of patch as JsonObject[]) {
    if (p['$patch'] === 'replace')
      return patch.filter((x) => !(isObject(x) && x['$patch'] === 'replace')).map(stripDirectives);
    const idx = out.findIndex((t) => isObject(t) && JSON.stringify(t[key]) === JSON.stringify(p[key]));
    if (p['$patch'] === 'delete') {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) out[idx] = strategicMergePatch(out[idx]!, p);
    else out.push(stripDirectives(p));
  }
  return out;
}

export function strategicMergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return patch;
  if (patch['$patch'] === 'delete') return null;
  if (patch['$patch'] === 'replace') return stripDirectives(patch);
  const out: JsonObject = isObject(target) ? { ...target } : {};
  const retain = Array.isArray(patch['$retainKeys'])
    ? (patch['$retainKeys'] as Json[]).filter((k): k is string => typeof k === 'string')
    : undefined;
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$retainKeys' || k === '$patch' || k.startsWith('$setElementOrder/')) continue;
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      const cur = out[field];
      if (Array.isArray(cur) && Array.isArray(v))
        out[field] = cur.filter((x) => !v.some((d) => JSON.stringify(d) === JSON.stringify(x)));
      continue;
    }
    if (v === null) {
      delete out[k];
      continue;
    }
    const cur = out[k];
    if (Array.isArray(v)) out[k] = mergeList(k, Array.isArray(cur) ? cur : [], v);
    else if (isObject(v)) {
      const merged = strategicMergePatch(cur ?? null, v);
      if (merged === null) delete out[k];
      else out[k] = merged;
    } else out[k] = v;
  }
  if (retain) for (const k of Object.keys(out)) if (!retain.includes(k)) delete out[k];
  return out;
}

export type JsonPatchOp = { op: string; path: string; value?: Json; from?: string };

function parsePointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new PatchError(`invalid JSON pointer "${path}": must start with "/"`, 400);
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function clone<T extends Json>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

function resolveParent(doc: Json, tokens: string[], path: string): { parent: JsonObject | Json[]; last: string } {
  let cur: Json = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(t)] ?? null;
    else if (isObject(cur)) cur = cur[t] ?? null;
    else cur = null;
    if (cur === null) throw new PatchError(`cannot apply JSON patch at "${path}": "${t}" does not exist`);
  }
  if (!Array.isArray(cur) && !isObject(cur))
    throw new PatchError(`cannot apply JSON patch at "${path}": parent is not an object or array`);
  return { parent: cur, last: tokens[tokens.length - 1]! };
}

function getAt(doc: Json, path: string): Json {
  let cur: Json = doc;
  for (const t of parsePointer(path)) {
    if (Array.isArray(cur) && /^\d+$/.test(t) && Number(t) < cur.length) cur = cur[Number(t)]!;
    else if (isObject(cur) && Object.prototype.hasOwnProperty.call(cur, t)) cur = cur[t]!;
    else throw new PatchError(`cannot apply JSON patch: path "${path}" does not exist`);
  }
  return cur;
}

function removeAt(doc: Json, path: string): Json {
  const tokens = parsePointer(path);
  if (tokens.length === 0) throw new PatchError('cannot remove the whole document');
  const { parent, last } = resolveParent(doc, tokens, path);
  if (Array.isArray(parent)) {
    const i = Number(last);
    if (!/^\d+$/.test(last) || i >= parent.length)
      throw new PatchError(`cannot apply JSON patch: path "${path}" does not exist`);
    return parent.splice(i, 1)[0]!;
  }
  if (!Object.prototype.hasOwnProperty.call(parent, last))
    throw new PatchError(`cannot apply JSON patch: path "${path}" does not exist`);
  const v = parent[last]!;
  delete parent[last];
  return v;
}

function addAt(doc: Json, path: string, value: Json, replace: boolean): Json {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return value;
  const { parent, last } = resolveParent(doc, tokens, path);
  if (Array.isArray(parent)) {
    const i = last === '-' ? parent.length : Number(last);
    if (!(last === '-' || /^\d+$/.test(last)) || i > parent.length || (replace && i >= parent.length)) {
      throw new PatchError(`cannot apply JSON patch: index "${last}" out of range at "${path}"`);
    }
    if (replace) parent[i] = value;
    else parent.splice(i, 0, value);
  } else {
    if (replace && !Object.prototype.hasOwnProperty.call(parent, last))
      throw new PatchError(`cannot apply JSON patch: path "${path}" does not exist`);
    parent[last] = value;
  }
  return doc;
}

export function jsonPatch(target: Json, ops: unknown): Json {
  if (!Array.isArray(ops)) throw new PatchError('a JSON patch must be an array of operations', 400);
  let doc = clone(target);
  for (const [i, raw] of ops.entries()) {
    if (!isObject(raw) || typeof raw['op'] !== 'string' || typeof raw['path'] !== 'string') {
      throw new PatchError(`JSON patch operation ${i} needs string "op" and "path"`, 400);
    }
    const op = raw as unknown as JsonPatchOp;
    switch (op.op) {
      case 'add':
        doc = addAt(doc, op.path, clone(op.value ?? null), false);
        break;
      case 'replace':
        doc = addAt(doc, op.path, clone(op.value ?? null), true);
        break;
      case 'remove':
        removeAt(doc, op.path);
        break;
      case 'move': {
        const v = removeAt(doc, op.from ?? '');
        doc = addAt(doc, op.path, v, false);
        break;
      }
      case 'copy':
        doc = addAt(doc, op.path, clone(getAt(doc, op.from ?? '')), false);
        break;
      case 'test':
        if (JSON.stringify(getAt(doc, op.path)) !== JSON.stringify(op.value ?? null)) {
          throw new PatchError(`JSON patch test failed at "${op.path}"`);
        }
        break;
      default:
        throw new PatchError(`JSON patch operation ${i}: unknown op "${op.op}"`, 400);
    }
  }
  return doc;
}

export type PatchType = 'merge' | 'strategic' | 'json';

export function patchTypeOf(contentType: string | undefined): PatchType | undefined {
  const ct = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (ct === 'application/merge-patch+json') return 'merge';
  if (ct === 'application/strategic-merge-patch+json') return 'strategic';
  if (ct === 'application/json-patch+json') return 'json';
  return undefined;
}

export function applyPatch(type: PatchType, target: Json, patch: unknown): Json {
  switch (type) {
    case 'merge':
      return mergePatch(clone(target), patch as Json);
    case 'strategic':
      return strategicMergePatch(clone(target), patch as Json);
    case 'json':
      return jsonPatch(target, patch);
  }
}
