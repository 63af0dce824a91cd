/**
 * One fixture per rejection rule (testdata/invalid/*.yaml). Each file's header lists the exact
 * problem paths it must produce (`# expect:`, a multiset) and a message fragment (`# message:`).
 * Per-document problems are bare paths in one-document files and `[doc N]: path` in batches;
 * batch problems carry validateBatch's own `[doc N] Kind "name": path` prefix. `# existing-from: N`
 * turns documents N.. into the datastore's existing objects instead of batch members.
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { applyDefaults, parseManifests, validateBatch, validateResource, type Problem } from './index.js';

const dir = join(fileURLToPath(new URL('.', import.meta.url)), 'testdata', 'invalid');

function header(text: string, key: string): string[] {
  const re = new RegExp(`^# ${key}: (.*)$`, 'gm');
  return [...text.matchAll(re)].map((m) => m[1]!.trim());
}

for (const file of readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()) {
  test(file, () => {
    const text = readFileSync(join(dir, file), 'utf8');
    const expected = header(text, 'expect').sort();
    const [message] = header(text, 'message');
    assert.ok(expected.length > 0 && message !== undefined, `${file} needs # expect and # message headers`);
    const docs = parseManifests(text, file);
    const existingFrom = Number(header(text, 'existing-from')[0] ?? docs.length + 1) - 1;
    const batch = docs.slice(0, existingFrom);
    const problems: Problem[] = [];
    batch.forEach((r, i) => {
      for (const p of validateResource(r)) {
        problems.push({ path: batch.length > 1 ? `[doc ${i + 1}]: ${p.path}` : p.path, message: p.message });
      }
    });
    problems.push(
      ...validateBatch(
        batch.map((r) => applyDefaults(r)),
        { existing: docs.slice(existingFrom) },
      ),
    );
    const got = problems.map((p) => p.path).sort();
    assert.deepEqual(
      got,
      expected,
      `${file}: problems were\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`,
    );
    assert.ok(
      problems.some((p) => p.message.includes(message)),
      `${file}: no message contains ${JSON.stringify(message)}:\n${problems.map((p) => `  ${p.message}`).join('\n')}`,
    );
  });
}
