/**
 * Runs the README's "Quick start" block as written (needs root and `make build`): every
 * `./bin/tessera ...` line, in order, must succeed. The commands are parsed out of README.md, so
 * the test cannot drift from what users read. Only the lab's name is added (`--name`, so parallel
 * runs do not collide) and the CLI config is a temp file.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { run } from '../src/lib/exec.js';

const ROOT = join(import.meta.dirname, '..');
const name = `cl-qs${randomBytes(2).toString('hex')}`;
const cfgDir = mkdtempSync(join(tmpdir(), 'cl-quickstart-'));
const env = { ...process.env, TESSERA_CONFIG: join(cfgDir, 'config.json') };

/** The `./bin/tessera` lines of the README's Quick start block, as argv (comments dropped). */
export function quickStartCommands(readme: string): string[][] {
  const section = readme.split(/^## Quick start\s*$/m)[1]?.split(/^## /m)[0] ?? '';
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l.startsWith('./bin/tessera '))
    .map((l) => l.split(/\s+/));
}

after(async () => {
  await run([join(ROOT, 'bin', 'tessera'), 'lab', 'down', '--name', name], { env, check: false, timeoutMs: 120_000 });
  rmSync(cfgDir, { recursive: true, force: true });
});

test('the README quick start works as written', { timeout: 240_000 }, async () => {
  const cmds = quickStartCommands(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  assert.ok(cmds.length >= 5, `found ${cmds.length} commands in the Quick start block`);
  assert.ok(
    cmds.some((c) => c.join(' ').startsWith('./bin/tessera apply -f examples/demo')),
    'the block applies the demo manifests',
  );
  for (const argv of cmds) {
    const args = argv.slice(1);
    if (args[0] === 'lab' && args[1] === 'up') args.push('--name', name);
    const r = await run([join(ROOT, 'bin', 'tessera'), ...args], { env, cwd: ROOT, check: false, timeoutMs: 180_000 });
    assert.equal(r.code, 0, `${argv.join(' ')} failed (exit ${r.code}):\n${r.stdout}${r.stderr}`);
    if (args[0] === 'lab' && args[1] === 'up') {
      // The agents stamp ClusterInformation "default" at start-up; `version` shows it.
      const v = await run([join(ROOT, 'bin', 'tessera'), 'version'], {
        env,
        cwd: ROOT,
        check: false,
        timeoutMs: 60_000,
      });
      assert.match(v.stdout, /Cluster Version:\s+v\d+\.\d+\.\d+/, v.stdout + v.stderr);
      assert.match(v.stdout, /Cluster Type:\s+tessera/, v.stdout);
    }
  }
});
