/**
 * docs/api-fields.md is generated from the schemas, the stored-only list and the rejection fixtures;
 * this test regenerates it and fails when the committed file differs (UPDATE_GOLDEN=1 rewrites it).
 * It also keeps the stored-only list honest: every entry names a field the schema has.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { renderFieldTable, schemaFields } from './field-table.js';
import { parseManifests } from './parse.js';
import { STORED_ONLY } from './stored-only.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const fixtures = join(here, 'testdata', 'invalid');
const doc = join(here, '..', '..', 'docs', 'api-fields.md');

/** kind → rule path (indices as `[]`) → fixture files. */
function rulesFromFixtures(): Map<string, Map<string, string[]>> {
  const rows = schemaFields();
  const known = new Set(rows.map((r) => `${r.kind} ${r.path}`));
  const out = new Map<string, Map<string, string[]>>();
  for (const file of readdirSync(fixtures)
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    const text = readFileSync(join(fixtures, file), 'utf8');
    let docs: { apiVersion: string; kind: string }[] = [];
    try {
      docs = parseManifests(text, file);
    } catch {
      docs = [];
    }
    for (const m of text.matchAll(/^# expect: (.*)$/gm)) {
      let path = m[1]!.trim();
      const n = /^\[doc (\d+)\](?: [A-Za-z]+ "[^"]*")?:? /.exec(path);
      const d = docs[n ? Number(n[1]) - 1 : 0];
      if (n) path = path.slice(n[0].length);
      path = path.replace(/\[\d+\]/g, '[]').replace(/\["[^"]*"\]/g, '');
      const kind = d ? `${d.apiVersion}/${d.kind}` : '(unparsed)';
      // The most specific schema field the rule's path falls under.
      let at = path;
      while (at && !known.has(`${kind} ${at}`)) {
        const cut = Math.max(at.lastIndexOf('.'), at.lastIndexOf('['));
        at = cut > 0 ? at.slice(0, cut) : '';
      }
      const key = at || path;
      const m2 = out.get(kind) ?? new Map<string, string[]>();
      out.set(kind, m2);
      const list = m2.get(key) ?? [];
      if (!list.includes(file)) list.push(file);
      m2.set(key, list);
    }
  }
  return out;
}

test('every stored-only entry names a field of its kind', () => {
  const rows = schemaFields();
  for (const [kind, table] of Object.entries(STORED_ONLY)) {
    for (const path of Object.keys(table)) {
      assert.ok(
        rows.some(
          (r) =>
            r.kind === kind && (r.path === path || r.path.startsWith(`${path}.`) || r.path.startsWith(`${path}[]`)),
        ),
        `${kind} ${path} is not in the schema`,
      );
    }
  }
});

test('docs/api-fields.md is up to date', () => {
  const actual = `${renderFieldTable(rulesFromFixtures())}\n`;
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(doc)) writeFileSync(doc, actual);
  assert.equal(actual, readFileSync(doc, 'utf8'), 'regenerate with UPDATE_GOLDEN=1');
});
