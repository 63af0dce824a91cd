/** Every golden config is accepted by the real BIRD (`bird -p`), and the writer never installs a rejected one. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../src/lib/exec.js';
import { isTesseraError } from '../src/lib/errors.js';
import { BirdWriter, renderRouterConfig } from '../src/bgp/index.js';

const goldenDir = fileURLToPath(new URL('../src/bgp/testdata/', import.meta.url));

test('bird -p accepts every golden config', async () => {
  const files = (await readdir(goldenDir)).filter((f) => f.endsWith('.conf'));
  assert.ok(files.length >= 7, `expected the golden set, found ${files.join(', ')}`);
  for (const f of files) {
    const r = await run(['bird', '-p', '-c', join(goldenDir, f)], { check: false });
    assert.equal(r.code, 0, `${f}: ${r.stderr}`);
  }
});

test('bird -p accepts the external router config', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsr-bgp-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const w = new BirdWriter({ stateDir: dir });
  await w.check(
    renderRouterConfig({
      asNumber: 65000,
      routerId: '10.0.0.254',
      neighbors: [
        { address: '10.0.0.1', asNumber: 64512, password: 'x' },
        { address: 'fd00::1', asNumber: 64512, port: 1790 },
      ],
    }),
  );
});

test('bird -p accepts the route-reflector router config (rr client, next hop self, next-hop subnet skip)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsr-bgp-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const text = renderRouterConfig({
    asNumber: 64512,
    routerId: '10.240.0.1',
    nextHopSelf: true,
    neighbors: [
      { address: '10.240.0.10', asNumber: 64512, rrClient: true, skipNextHopsIn: '10.240.0.10/24' },
      { address: 'fd00:240::a', asNumber: 64512, rrClient: true, skipNextHopsIn: 'fd00:240::a/64' },
    ],
  });
  assert.match(text, /rr client;\n  rr cluster id 10\.240\.0\.1;/);
  assert.match(
    text,
    /next hop self; import all; export where source = RTS_BGP && !\(bgp_next_hop ~ 10\.240\.0\.0\/24\);/,
  );
  assert.match(text, /bgp_next_hop ~ fd00:240::\/64/);
  await new BirdWriter({ stateDir: dir }).check(text);
  // A reflector client must be in the router's own AS (rr client is iBGP only).
  assert.throws(
    () =>
      renderRouterConfig({
        asNumber: 65000,
        routerId: '10.0.0.1',
        neighbors: [{ address: '10.0.0.2', asNumber: 64512, rrClient: true }],
      }),
    /route reflector client/,
  );
  assert.throws(
    () =>
      renderRouterConfig({
        asNumber: 65000,
        routerId: '10.0.0.1',
        neighbors: [{ address: '10.0.0.2', asNumber: 64512, skipNextHopsIn: 'fd00::/64' }],
      }),
    /not an IPv4 CIDR/,
  );
});

test('the writer rejects a config BIRD rejects and leaves the installed one alone', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tsr-bgp-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const w = new BirdWriter({ stateDir: dir });
  await assert.rejects(w.write('router id 1.2.3.4;\nprotocol bogus {}\n'), (e: unknown) => {
    assert.ok(isTesseraError(e, 'validation'));
    assert.match((e as Error).message, /BIRD rejected the generated config ".*bird\.conf\.new"/);
    return true;
  });
  await assert.rejects(readFile(w.paths.conf, 'utf8'), /ENOENT/);
  assert.equal(await w.isRunning(), false);
});
