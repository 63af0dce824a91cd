/**
 * `make typecheck` runs this: it fails (exit 1, one line per broken rule) on an import cycle among
 * src/ files or an import that points up (or across) the layers of ../shared/DESIGN.md.
 * Usage: node --import tsx scripts/layers/main.ts [ROOT]   (ROOT defaults to the repository)
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { checkLayers, type SourceFile } from './graph.js';

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...listTs(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') && !e.name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

/** A relative ESM specifier (`./x.js`) → the .ts file it names, repository-relative; else undefined. */
function resolveImport(root: string, fromAbs: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const abs = resolve(dirname(fromAbs), spec.replace(/\.js$/, '.ts'));
  try {
    if (statSync(abs).isFile()) return relative(root, abs);
  } catch {
    // not a file of ours (a .json, or a path that does not exist: tsc reports that)
  }
  return undefined;
}

export function readSources(root: string): SourceFile[] {
  return listTs(join(root, 'src')).map((abs) => {
    const info = ts.preProcessFile(readFileSync(abs, 'utf8'), true, true);
    const imports = info.importedFiles
      .map((f) => resolveImport(root, abs, f.fileName))
      .filter((p): p is string => p !== undefined);
    return { path: relative(root, abs), imports };
  });
}

const root = resolve(process.argv[2] ?? join(dirname(new URL(import.meta.url).pathname), '..', '..'));
const files = readSources(root);
const violations = checkLayers(files);
for (const v of violations) process.stderr.write(`layers: ${v.message}\n`);
if (violations.length > 0) {
  process.stderr.write(
    `layers: ${violations.length} broken import rule(s) in ${files.length} files (see ../shared/DESIGN.md "Layout")\n`,
  );
  process.exit(1);
}
process.stdout.write(`layers: ${files.length} files, no cycle, every import points down\n`);
