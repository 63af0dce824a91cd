/**
 * bin/tessera, the launcher `make build` writes (scripts/bundle.mjs, scripts/cached-launcher.cjs):
 * - every command group runs, i.e. the launcher sends them to the full bundle (the core bundle
 *   only has stubs for them, which throw);
 * - with no bundle, or a bundle older than tsc's output, it runs tsc's output instead;
 * - a current bundle is what runs;
 * - NODE_EXTRA_CA_CERTS is moved aside before Node starts (TESSERA_EXTRA_CA_CERTS), so Node does not
 *   parse it at start; the etcd backends add it to their TLS roots (src/datastore/etcd/extra-ca.ts).
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

function tessera(launcher: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(launcher, args, {
    encoding: 'utf8',
    env: { ...process.env, TESSERA_CONFIG: join(tmpdir(), 'tessera-launcher-test-none.json'), ...env },
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

  it('moves NODE_EXTRA_CA_CERTS aside before Node starts', () => {
    // Node warns at start about an unreadable NODE_EXTRA_CA_CERTS; the launcher's Node never sees it.
    const missing = join(tmpdir(), 'tessera-launcher-no-such-ca.pem');
    const direct = spawnSync(process.execPath, ['-e', '0'], {
      encoding: 'utf8',
      env: { ...process.env, NODE_EXTRA_CA_CERTS: missing },
    });
    assert.match(direct.stderr, /extra certs/i, 'plain node parses the variable at start');
    const r = tessera(bin, ['--help'], { NODE_EXTRA_CA_CERTS: missing });
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(r.err, /extra certs/i);
    // A symlink to the launcher (an install into PATH) finds its bundle too.
    const dir = mkdtempSync(join(tmpdir(), 'tessera-launcher-link-'));
    try {
      symlinkSync(bin, join(dir, 'tessera'));
      const viaLink = tessera(join(dir, 'tessera'), ['--help']);
      assert.equal(viaLink.code, 0, viaLink.err);
      assert.match(viaLink.out, /Usage: tessera/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
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
      copyFileSync(`${bin}.cjs`, `${launcher}.cjs`);
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

    it('keeps one code cache per verb, written by a run that did the work', () => {
      copyFileSync(join(root, 'dist', 'bin', 'tessera.cjs'), bundle);
      const cache = (verb: string) => existsSync(join(dir, 'dist', 'bin', `tessera.cjs.${verb}.cache`));
      assert.equal(tessera(launcher, ['validate', '--help']).code, 0);
      assert.equal(cache('validate'), false, '--help does not write the verb cache');
      assert.notEqual(tessera(launcher, ['validate', '-f', join(dir, 'missing.yaml')]).code, 0);
      assert.equal(cache('validate'), false, 'a failed run does not write the verb cache');
      writeFileSync(
        join(dir, 'ok.yaml'),
        'apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata:\n  name: t1\nspec:\n  order: 10\n',
      );
      const ok = tessera(launcher, ['--context', 'x', 'validate', '-f', join(dir, 'ok.yaml')]);
      assert.equal(ok.code, 0, ok.err);
      assert.equal(cache('validate'), true, 'a successful run writes it (global options skipped)');
      assert.equal(tessera(launcher, ['--help']).code, 0);
      assert.equal(cache('other'), true, 'no verb: the shared cache');
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
