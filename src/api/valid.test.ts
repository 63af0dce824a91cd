/**
 * Documents Calico accepts (testdata/valid/*.yaml): each validates clean on its own and as a batch,
 * before and after defaults. The counterpart of invalid.test.ts, so that a rule added for Calico
 * parity does not over-reject; calico-rules.ts names the files.
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { applyDefaults, parseManifests, validateBatch, validateResource } from './index.js';

const dir = join(fileURLToPath(new URL('.', import.meta.url)), 'testdata', 'valid');

for (const file of readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()) {
  test(file, () => {
    const docs = parseManifests(readFileSync(join(dir, file), 'utf8'), file);
    assert.ok(docs.length > 0);
    for (const r of docs) {
      assert.deepEqual(validateResource(r), [], `${r.kind} ${r.metadata.name} (as written)`);
      assert.deepEqual(validateResource(applyDefaults(r)), [], `${r.kind} ${r.metadata.name} (defaulted)`);
    }
    assert.deepEqual(
      validateBatch(
        docs.map((r) => applyDefaults(r)),
        { existing: [] },
      ),
      [],
    );
  });
}
