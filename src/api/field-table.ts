/**
 * The field table (docs/api-fields.md): every kind Tessera accepts, every field its schema has, the
 * field's JSON type, whether Tessera acts on it or only stores it (stored-only.ts), and the
 * rejection rules that concern it (one fixture each in testdata/invalid/). Generated from the
 * schemas and checked by field-table.test.ts, so it cannot drift from what the validator does.
 */
import { STORED_ONLY } from './stored-only.js';
import { SCHEMAS } from './validate/schemas.js';
import type { Shape } from './validate/shape.js';

export interface FieldRow {
  /** `apiVersion/kind` */
  kind: string;
  /** `spec.ingress[].action`; `[]` = every item, `{}` = every map value, `.*` = carried along unchecked. */
  path: string;
  type: string;
}

function walk(kind: string, s: Shape, path: string, out: FieldRow[]): void {
  switch (s.t) {
    case 'object':
      for (const [k, v] of Object.entries(s.fields)) walk(kind, v, path ? `${path}.${k}` : k, out);
      if (s.open) out.push({ kind, path: `${path}.*`, type: 'any (not checked)' });
      return;
    case 'array':
      if (s.of.t === 'object' || s.of.t === 'array') return walk(kind, s.of, `${path}[]`, out);
      out.push({ kind, path, type: `list of ${s.of.t}` });
      return;
    case 'map':
      out.push({ kind, path, type: `map of ${s.of.t}` });
      return;
    default:
      out.push({ kind, path, type: s.t });
  }
}

/** Every field of every kind's schema, in schema order. */
export function schemaFields(): FieldRow[] {
  const out: FieldRow[] = [];
  for (const [kind, schema] of Object.entries(SCHEMAS)) {
    if (schema.spec) walk(kind, schema.spec, 'spec', out);
    if (schema.status) walk(kind, schema.status, 'status', out);
    for (const [field, shape] of Object.entries(schema.extra ?? {})) walk(kind, shape, field, out);
  }
  return out;
}

/** The stored-only reason for a field: its own entry, or that of an enclosing field. */
export function storedOnlyReason(kind: string, path: string): string | undefined {
  const table = STORED_ONLY[kind] ?? {};
  for (const [p, why] of Object.entries(table)) {
    if (path === p || path.startsWith(`${p}.`) || path.startsWith(`${p}[]`)) return why;
  }
  return undefined;
}

const cell = (s: string) => s.replace(/\|/g, '\\|');

/**
 * Renders the table. `rules` maps `kind` → field path → fixture names; rules on paths the schema
 * does not list (metadata, apiVersion, cross-document checks) go under "All kinds".
 */
export function renderFieldTable(rules: ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>): string {
  const rows = schemaFields();
  const lines = [
    '# Fields, and the rules on them',
    '',
    'Generated from `src/api/validate/schemas.ts`, `src/api/stored-only.ts` and the rejection fixtures',
    'in `src/api/testdata/invalid/` by `src/api/field-table.test.ts`, which fails when this file is out of',
    'date (regenerate: `UPDATE_GOLDEN=1 node --import tsx --test src/api/field-table.test.ts`).',
    '',
    '- **acts on**: the field changes what Tessera does.',
    "- **stored only**: accepted and stored, because Calico's API has it; `tessera apply` warns that it has no effect.",
    '- **rules**: each is a fixture in `src/api/testdata/invalid/` that a test applies and expects rejected at that path.',
    '',
  ];
  const kinds = [...new Set(rows.map((r) => r.kind))];
  const placed = new Set<string>();
  for (const kind of kinds) {
    lines.push(`## ${kind}`, '', '| field | type | Tessera | rules |', '| --- | --- | --- | --- |');
    const kindRules = rules.get(kind) ?? new Map<string, readonly string[]>();
    for (const r of rows.filter((x) => x.kind === kind)) {
      const why = storedOnlyReason(kind, r.path);
      const own = [...kindRules.entries()].filter(([p]) => p === r.path).flatMap(([, f]) => f);
      if (own.length) placed.add(`${kind} ${r.path}`);
      lines.push(
        `| \`${r.path}\` | ${r.type} | ${why ? `stored only: ${cell(why)}` : 'acts on'} | ${own.map((f) => `\`${f}\``).join(', ')} |`,
      );
    }
    const others = [...kindRules.entries()].filter(([p]) => !placed.has(`${kind} ${p}`));
    if (others.length) {
      lines.push('', 'Rules on the object as a whole or across documents:', '');
      for (const [p, f] of others) lines.push(`- \`${p || '(document)'}\`: ${f.map((x) => `\`${x}\``).join(', ')}`);
    }
    lines.push('');
  }
  const rest = [...rules.entries()].filter(([k]) => !kinds.includes(k));
  if (rest.length) {
    lines.push('## All kinds', '');
    for (const [k, m] of rest) {
      for (const [p, f] of m) lines.push(`- ${k}: \`${p || '(document)'}\`: ${f.map((x) => `\`${x}\``).join(', ')}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
