/**
 * bin/tessera, the launcher `make build` writes (scripts/bundle.mjs, scripts/cached-launcher.cjs):
 * - every command group runs, i.e. the launcher sends them to the full bundle (the core bundle
 *   only has stubs for them, which throw);
 * - with no bundle, or a bundle older than tsc's output, it runs tsc's output instead;
 * - a current bundle is what runs.
 * No datastore and no root needed: only --help output and exit codes. Needs `make build`.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

const root = join(import.meta.dirname, '..');
const bin = join(root, 'bin', 'tessera');

function tessera(launcher: string, args: string[]) {
  const r = spawnSync(launcher, args, {
    encoding: 'utf8',
    env: { ...process.env, TESSERA_CONFIG: join(tmpdir(), 'tessera-launcher-test-none.json') },
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('bin/tessera launcher', { skip: !existsSync(bin) && 'bin/tessera is not built (make build)' }, () => {
  it('the core bundle leaves the command groups out; every group still runs', () => {
    const core = readFileSync(join(root, 'dist', 'bin', 'tessera.cjs'), 'utf8');
    assert.match(core, /is only in tessera-full\.cjs/, 'the core bundle stubs the command groups');
    for (const args of [
      ['lab', '--help'],
      ['demo', '--help'],
      ['ipam', '--help'],
      ['policy', '--help'],
      ['node', '--help'],
      ['help', 'lab'],
      ['--help'],
      ['get', '--help'],
    ]) {
      const r = tessera(bin, args);
      assert.equal(r.code, 0, `tessera ${args.join(' ')}: exit ${r.code}\n${r.err}`);
      assert.match(r.out, /Usage: tessera/, `tessera ${args.join(' ')}`);
    }
  });

  describe('fallback to tsc output', () => {
    // A copy of the tree's layout: bin/tessera, dist/src -> the real tsc output, dist/bin/ ours.
    let dir: string;
    let launcher: string;
    let bundle: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'tessera-launcher-'));
      mkdirSync(join(dir, 'bin'));
      mkdirSync(join(dir, 'dist', 'bin'), { recursive: true });
      launcher = join(dir, 'bin', 'tessera');
      copyFileSync(bin, launcher);
      copyFileSync(join(root, 'bin', 'package.json'), join(dir, 'bin', 'package.json'));
      symlinkSync(join(root, 'dist', 'src'), join(dir, 'dist', 'src'));
      bundle = join(dir, 'dist', 'bin', 'tessera.cjs');
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('runs tsc output when there is no bundle', () => {
      rmSync(bundle, { force: true });
      const r = tessera(launcher, ['--help']);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /Usage: tessera/);
    });

    it('runs a bundle newer than tsc output, and tsc output when the bundle is older', () => {
      // A stand-in bundle that only exits 7: which one ran shows in the exit code.
      writeFileSync(bundle, 'process.exit(7);\n');
      assert.equal(tessera(launcher, ['--help']).code, 7, 'a current bundle is used');
      const old = new Date(Date.now() - 365 * 24 * 3600 * 1000);
      utimesSync(bundle, old, old);
      const r = tessera(launcher, ['--help']);
      assert.equal(r.code, 0, `a stale bundle is skipped: ${r.err}`);
      assert.match(r.out, /Usage: tessera/);
    });
  });
});
