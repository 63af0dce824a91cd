/** Finds the Tessera package root (where package.json is) from this module, in src/ or dist/src/. */
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageInfo(): { root: string; version: string } | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    // stat first: a failed read throws, and building that error costs every command start-up time.
    if (!statSync(join(dir, 'package.json'), { throwIfNoEntry: false })?.isFile()) {
      dir = dirname(dir);
      continue;
    }
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'tessera') return { root: dir, version: pkg.version ?? 'unknown' };
    } catch {
      // not here; keep walking up
    }
    dir = dirname(dir);
  }
  return undefined;
}
