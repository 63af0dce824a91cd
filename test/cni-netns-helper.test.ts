/**
 * The CNI server's pod-side wiring (src/cni/ip-runner.ts): bin/tessera-netns (setns + rtnetlink)
 * must leave a pod netns exactly as `ip -n <netns> -batch` leaves it, report failures as
 * `exec-failed` naming the line, and hand scripts it does not understand to `ip`.
 * Real namespaces; every name carries this run's prefix and is removed at the end.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { run } from '../src/lib/exec.js';
import { binPath } from '../src/lib/paths.js';
import { isTesseraError } from '../src/lib/errors.js';
import { startIpHelper, type IpRunner } from '../src/cni/ip-runner.js';
import { renderPodSetup } from '../src/cni/wiring-render.js';
import { ensureShim } from './cni-harness.js';

const P = `t18c${randomBytes(2).toString('hex')}`;

/** What `ip` shows of a pod netns (addresses, routes of both families, neighbours), ids removed. */
async function state(ns: string): Promise<string> {
  const out: string[] = [];
  for (const argv of [
    ['-d', '-o', 'addr', 'show', 'dev', 'eth0'],
    ['-d', '-4', 'route', 'show', 'table', 'all'],
    ['-d', '-6', 'route', 'show', 'table', 'all'],
    ['neigh', 'show', 'dev', 'eth0'],
  ]) {
    out.push((await run(['ip', '-n', ns, ...argv])).stdout);
  }
  return out
    .join('')
    .split('\n')
    .filter((l) => !/fe80::|ff00::|multicast|local /.test(l)) // the kernel's own link-local bits differ per veth
    .map((l) => l.replace(/^\d+: /, '').replace(/eth0@\S+/, 'eth0'))
    .join('\n');
}

describe('CNI pod-side wiring helper', () => {
  const made: string[] = [];
  let helper: IpRunner;
  const pod = async (tag: string): Promise<string> => {
    const ns = `${P}-${tag}`;
    await run(['ip', 'netns', 'add', ns]);
    made.push(ns);
    await run(['ip', 'link', 'add', `${P}${tag}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await run(['ip', 'link', 'set', `${P}${tag}`, 'up']);
    return ns;
  };
  before(async () => {
    await ensureShim();
    helper = startIpHelper();
  });
  after(async () => {
    helper?.close();
    for (const ns of made) {
      await run(['ip', 'netns', 'del', ns], { check: false });
      await run(['ip', 'link', 'del', `${P}${ns.slice(P.length + 1)}`], { check: false });
    }
  });

  test('leaves the pod netns exactly as ip does', async () => {
    assert.ok(existsSync(binPath('tessera-netns')), 'make build compiles bin/tessera-netns');
    const w = {
      hostIf: 'unused',
      podIf: 'eth0',
      podMac: '0a:58:0a:00:00:05',
      mtu: 1500,
      addresses: ['10.9.0.5', 'fd00:9::5'],
    };
    const a = await pod('a');
    const b = await pod('b');
    await helper.prepareNetns(a).run(renderPodSetup({ ...w, netnsName: a }));
    await run(['ip', '-n', b, '-batch', '-'], { input: renderPodSetup({ ...w, netnsName: b }) });
    const got = await state(a);
    assert.match(got, /10\.9\.0\.5\/32/);
    assert.match(got, /default via 169\.254\.1\.1 dev eth0/);
    assert.match(got, /169\.254\.1\.1 lladdr ee:ee:ee:ee:ee:ee PERMANENT/);
    assert.equal(got, await state(b));
  });

  test('a failing line is exec-failed naming it, and stops the script', async () => {
    const c = await pod('c');
    const script = 'link set eth0 up\nroute add default via 169.254.1.1 dev eth0\naddr add 10.9.0.7/32 dev eth0\n';
    await assert.rejects(helper.prepareNetns(c).run(script), (e: unknown) => {
      assert.ok(isTesseraError(e, 'exec-failed'));
      assert.match((e as Error).message, /route add default via 169\.254\.1\.1 dev eth0/);
      return true;
    });
    assert.doesNotMatch((await run(['ip', '-n', c, 'addr', 'show', 'dev', 'eth0'])).stdout, /10\.9\.0\.7/);
    await assert.rejects(helper.prepareNetns(`${P}-gone`).run('link set eth0 up\n'), (e: unknown) =>
      isTesseraError(e, 'exec-failed'),
    );
  });

  test('a line the helper does not know runs through ip; cancel runs nothing', async () => {
    const d = await pod('d');
    await helper.prepareNetns(d).cancel();
    await helper.prepareNetns(d).run('link set eth0 mtu 1400\nlink set eth0 up\n');
    const link = (await run(['ip', '-n', d, 'link', 'show', 'dev', 'eth0'])).stdout;
    assert.match(link, /<[^>]*\bUP\b[^>]*> mtu 1400 /);
  });
});
