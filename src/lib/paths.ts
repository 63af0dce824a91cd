/** Where the repository's built executables live (bin/), found from src/lib or dist/src/lib. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (holds package.json and bin/). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/** `bin/<name>` in the repository (launchers and compiled helpers written by `make build`). */
export function binPath(name: string): string {
  return join(repoRoot(), 'bin', name);
}
