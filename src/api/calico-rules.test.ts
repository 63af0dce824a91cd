/**
 * The walked list of Calico rules (calico-rules.ts) cannot drift: every fixture it names exists
 * (invalid.test.ts and valid.test.ts run them), every new rejection fixture is listed, and
 * docs/calico-rules.md is regenerated from it (UPDATE_GOLDEN=1 rewrites it).
 */
import { strict as assert } from 'node:assert';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CALICO_RULES, renderCalicoRules } from './calico-rules.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const invalid = join(here, 'testdata', 'invalid');
const valid = join(here, 'testdata', 'valid');
const doc = join(here, '..', '..', 'docs', 'calico-rules.md');

/** Fixtures about Tessera's own rules or the batch (not a rule of Calico's validator). */
const TESSERA_ONLY = new Set([
  'cluster-scoped-namespace.yaml',
  'duplicate-name.yaml',
  'ippool-overlap-existing.yaml',
  'k8s-np-endport.yaml',
  'k8s-np-ipblock.yaml',
  'k8s-np-port-protocol.yaml',
  'k8s-np-selector.yaml',
  'rule-unknown-field.yaml',
  'tier-missing.yaml',
  'tier-name-prefix.yaml',
  'unknown-field-spec.yaml',
  'unknown-field-top.yaml',
  'unknown-kind.yaml',
  'wrong-type.yaml',
]);

test('every fixture the list names exists', () => {
  for (const r of CALICO_RULES) {
    const t = r.tessera;
    if ('notApplicable' in t) continue;
    if (t.fixture) assert.ok(existsSync(join(invalid, t.fixture)), `${r.kind} ${r.field}: invalid/${t.fixture}`);
    if (t.accepts) assert.ok(existsSync(join(valid, t.accepts)), `${r.kind} ${r.field}: valid/${t.accepts}`);
  }
});

test("every rejection fixture is a listed Calico rule or one of Tessera's own", () => {
  const listed = new Set(
    CALICO_RULES.flatMap((r) => ('fixture' in r.tessera && r.tessera.fixture ? [r.tessera.fixture] : [])),
  );
  for (const f of readdirSync(invalid).filter((x) => x.endsWith('.yaml'))) {
    assert.ok(listed.has(f) || TESSERA_ONLY.has(f), `${f} is neither in calico-rules.ts nor in TESSERA_ONLY`);
  }
});

test('docs/calico-rules.md is up to date', () => {
  const actual = renderCalicoRules();
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(doc)) writeFileSync(doc, actual);
  assert.equal(actual, readFileSync(doc, 'utf8'), 'regenerate with UPDATE_GOLDEN=1');
});
