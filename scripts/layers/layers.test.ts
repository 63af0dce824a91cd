import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { checkLayers, findCycles, type SourceFile } from './graph.js';

const MAIN = join(dirname(new URL(import.meta.url).pathname), 'main.ts');
const kinds = (files: SourceFile[]) => checkLayers(files).map((v) => v.kind);

test('imports down the layers, through an index, and within a component pass', () => {
  assert.deepEqual(
    kinds([
      { path: 'src/cli/program.ts', imports: ['src/lab/index.ts', 'src/lib/errors.ts', 'src/cli/io.ts'] },
      { path: 'src/agent/a.ts', imports: ['src/dataplane/nft/index.ts', 'src/api/selector/index.ts'] },
      { path: 'src/dataplane/vxlan/diff.ts', imports: ['src/dataplane/routes/model.ts'] },
      { path: 'test/x.test.ts', imports: ['src/cli/main.ts', 'src/agent/agent.ts'] },
    ]),
    [],
  );
});

test('an upward, a sideways and a deep import, and an import of a binary, are each reported', () => {
  assert.deepEqual(kinds([{ path: 'src/datastore/a.ts', imports: ['src/ipam/index.ts'] }]), ['upward']);
  assert.deepEqual(kinds([{ path: 'src/ipam/a.ts', imports: ['src/policy/index.ts'] }]), ['sideways']);
  assert.deepEqual(kinds([{ path: 'src/agent/a.ts', imports: ['src/policy/calculator.ts'] }]), ['deep']);
  assert.deepEqual(kinds([{ path: 'src/agent/a.ts', imports: ['src/agent/main.ts'] }]), ['imports-binary']);
  assert.deepEqual(kinds([{ path: 'src/cli/a.ts', imports: ['src/cni/server-main.ts'] }]), ['imports-binary', 'deep']);
  assert.deepEqual(kinds([{ path: 'src/newthing/a.ts', imports: [] }]), ['unknown-component']);
});

test('cycles are found, as a path, including type-only ones and self-imports', () => {
  const files: SourceFile[] = [
    { path: 'src/ipam/allocator.ts', imports: ['src/ipam/host-batch.ts', 'src/ipam/block.ts'] },
    { path: 'src/ipam/host-batch.ts', imports: ['src/ipam/allocator.ts'] },
    { path: 'src/ipam/block.ts', imports: [] },
    { path: 'src/cli/a.ts', imports: ['src/cli/b.ts'] },
    { path: 'src/cli/b.ts', imports: ['src/cli/c.ts'] },
    { path: 'src/cli/c.ts', imports: ['src/cli/a.ts'] },
    { path: 'src/lib/self.ts', imports: ['src/lib/self.ts'] },
  ];
  assert.deepEqual(findCycles(files), [
    ['src/cli/a.ts', 'src/cli/b.ts', 'src/cli/c.ts'],
    ['src/ipam/allocator.ts', 'src/ipam/host-batch.ts'],
    ['src/lib/self.ts'],
  ]);
  assert.deepEqual(
    findCycles(
      files.filter(
        (f) => f.path !== 'src/cli/c.ts' && f.path !== 'src/lib/self.ts' && f.path !== 'src/ipam/host-batch.ts',
      ),
    ),
    [],
  );
});

test('the repository itself passes the check', () => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', MAIN], { encoding: 'utf8' });
  assert.match(out, /no cycle, every import points down/);
});

test('the check fails on a tree where a cycle and an upward import are added, naming both', () => {
  const root = mkdtempSync(join(tmpdir(), 'tessera-layers-'));
  try {
    const put = (path: string, text: string) => {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    };
    put('src/lib/errors.ts', 'export class E {}\n');
    put('src/api/index.ts', "import { E } from '../lib/errors.js';\nexport const e = E;\n");
    put('src/datastore/index.ts', "import type { e } from '../api/index.js';\nexport type X = typeof e;\n");
    const clean = spawnSync(process.execPath, ['--import', 'tsx', MAIN, root], { encoding: 'utf8' });
    assert.equal(clean.status, 0, clean.stderr);

    put(
      'src/lib/errors.ts',
      "import type { X } from '../datastore/index.js';\nexport class E {}\nexport type Y = X;\n",
    );
    put('src/api/a.ts', "import { b } from './b.js';\nexport const a = () => b;\n");
    put('src/api/b.ts', "export const b = async () => (await import('./a.js')).a;\n");
    const broken = spawnSync(process.execPath, ['--import', 'tsx', MAIN, root], { encoding: 'utf8' });
    assert.equal(broken.status, 1);
    assert.match(
      broken.stderr,
      /src\/lib\/errors\.ts \(lib, layer 0\) imports src\/datastore\/index\.ts \(datastore, layer 2\)/,
    );
    assert.match(broken.stderr, /import cycle: src\/api\/a\.ts → src\/api\/b\.ts → src\/api\/a\.ts/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
