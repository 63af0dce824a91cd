/**
 * `lab down` after a `lab up` that was SIGKILLed half-way (no chance to record its failure):
 * everything it created must still go, found through the state file and the sweeps.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { labDir, labDown, readLabState } from '../src/lab/index.js';
import { start } from '../src/lib/exec.js';
import { readCliConfig } from '../src/lib/context.js';
import { processesNaming } from './helpers/lab.js';

const cfgDir = mkdtempSync(join(tmpdir(), 'tessera-labtest-'));
const env = { ...process.env, TESSERA_CONFIG: join(cfgDir, 'config.json') };
const names: string[] = [];

after(async () => {
  for (const n of names) await labDown(n, { env }).catch(() => undefined);
  rmSync(cfgDir, { recursive: true, force: true });
});

/** Starts `lab up` in a child process and SIGKILLs it once a progress line matches `killAt`. */
async function killedUp(name: string, killAt: RegExp): Promise<string> {
  const mod = join(import.meta.dirname, '..', 'src', 'lab', 'index.ts');
  const script = `import(${JSON.stringify(mod)}).then((m) => m.labUp({ name: ${JSON.stringify(name)}, nodes: 3, subnets: 2 }, { onProgress: (l) => console.log(l) }))`;
  const child = start([process.execPath, '--import', 'tsx', '-e', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`lab up never printed ${killAt}: ${seen}`)), 60_000);
    child.stdout?.on('data', (b: Buffer) => {
      seen += b.toString();
      if (killAt.test(seen)) {
        clearTimeout(timer);
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  await new Promise((r) =>
    child.exitCode !== null || child.signalCode !== null ? r(undefined) : child.once('exit', r),
  );
  return seen;
}

for (const [label, killAt] of [
  ['after the fabric', /fabric:/],
  ['after etcd started', /etcd: \d member/],
] as const) {
  test(`down cleans up a lab up killed ${label}`, async () => {
    const name = `tsr${randomBytes(3).toString('hex')}`;
    names.push(name);
    const dir = labDir(name, env);
    const out = await killedUp(name, killAt);
    assert.match(out, killAt);
    assert.equal(readLabState(dir)?.phase, 'creating', 'the killed up never marked its state');
    assert.ok(
      readdirSync('/var/run/netns').some((n) => n.startsWith(`${name}-`)),
      'the killed up left namespaces',
    );
    const r = await labDown(name, { env });
    assert.equal(r.existed, true);
    assert.deepEqual(
      readdirSync('/var/run/netns').filter((n) => n.startsWith(`${name}-`)),
      [],
    );
    assert.deepEqual(processesNaming(dir), []);
    assert.equal(existsSync(dir), false);
    assert.equal(readCliConfig(env).contexts[name], undefined);
  });
}
