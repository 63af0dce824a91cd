/**
 * The rendered table enforces policy on real packets: a "host" namespace with two Calico-style pod
 * veths (tsr*), pods pinging each other through the host's forward hook. Covers allow, deny via an
 * incremental diff, anti-spoofing and fail-closed for an unprogrammed tsr* interface.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { run } from '../src/lib/exec.js';
import { NftReconciler, renderNft } from '../src/dataplane/nft/index.js';
import { PolicyCalculator, type PolicyInput } from '../src/policy/index.js';

const tag = randomBytes(2).toString('hex');
const prefix = `tsr-${tag}-`;
const host = `${prefix}host`;
const pods = { a: '10.77.0.1', b: '10.77.0.2', c: '10.77.0.3' } as const;
const ifname = (p: string) => `tsr${tag}${p}`;
const created: string[] = [];

async function sh(ns: string, cmd: string[]): Promise<void> {
  await run(cmd, { netns: ns });
}

before(async () => {
  await run(['ip', 'netns', 'add', host]);
  created.push(host);
  await sh(host, ['sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  await sh(host, ['ip', 'link', 'set', 'lo', 'up']);
  for (const [p, ip] of Object.entries(pods)) {
    const ns = `${prefix}${p}`;
    await run(['ip', 'netns', 'add', ns]);
    created.push(ns);
    await run(['ip', 'link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', ifname(p), 'netns', host]);
    await sh(host, ['ip', 'link', 'set', ifname(p), 'address', 'ee:ee:ee:ee:ee:ee', 'up']);
    await sh(host, ['ip', 'route', 'add', `${ip}/32`, 'dev', ifname(p)]);
    await sh(ns, ['ip', 'link', 'set', 'lo', 'up']);
    await sh(ns, ['ip', 'addr', 'add', `${ip}/32`, 'dev', 'eth0']);
    await sh(ns, ['ip', 'link', 'set', 'eth0', 'up']);
    await sh(ns, ['ip', 'route', 'add', '169.254.1.1', 'dev', 'eth0', 'scope', 'link']);
    await sh(ns, ['ip', 'route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0']);
    await sh(ns, [
      'ip',
      'neigh',
      'replace',
      '169.254.1.1',
      'lladdr',
      'ee:ee:ee:ee:ee:ee',
      'dev',
      'eth0',
      'nud',
      'permanent',
    ]);
  }
});

after(async () => {
  for (const ns of created.reverse()) await run(['ip', 'netns', 'del', ns], { check: false });
});

async function ping(from: keyof typeof pods, to: string, source?: string): Promise<boolean> {
  const argv = ['ping', '-c', '1', '-W', '1', ...(source ? ['-I', source] : []), to];
  const r = await run(argv, { netns: `${prefix}${from}`, check: false });
  return r.code === 0;
}

test('allow, deny by diff, anti-spoofing, fail closed — on real packets', async () => {
  const calc = new PolicyCalculator({ nodeName: 'n1' });
  calc.apply({ kind: 'Namespace', key: 'x', value: { name: 'x' } });
  for (const p of ['a', 'b'] as const) {
    calc.apply({
      kind: 'WorkloadEndpoint',
      key: `x/${p}`,
      value: {
        name: p,
        namespace: 'x',
        node: 'n1',
        interfaceName: ifname(p),
        ipNetworks: [`${pods[p]}/32`],
        labels: { pod: p },
      },
    });
  }
  const policy = (action: 'Allow' | 'Deny'): PolicyInput => ({
    kind: 'GlobalNetworkPolicy',
    name: 'icmp',
    spec: {
      tier: 'default',
      order: 1,
      selector: 'pod == "b"',
      ingress: [{ action, protocol: 'ICMP', icmp: { type: 8 }, source: { selector: 'pod == "a"' } }],
    },
  });
  calc.apply({ kind: 'Policy', key: 'icmp', value: policy('Allow') });
  const rec = new NftReconciler({ netns: host });
  assert.equal((await rec.apply(renderNft(calc.resolve()))).mode, 'full');
  assert.equal(await ping('a', pods.b), true, 'a → b allowed by policy');
  assert.equal(await ping('b', pods.a), true, 'b → a allowed by the namespace profile');
  assert.equal(await ping('c', pods.b), false, 'c is a tsr* interface with no endpoint: fail closed');

  calc.apply({ kind: 'Policy', key: 'icmp', value: policy('Deny') });
  const r = await rec.apply(renderNft(calc.resolve()));
  assert.equal(r.mode, 'diff');
  assert.equal(await ping('a', pods.b), false, 'a → b denied after the diff');
  assert.equal(await ping('b', pods.a), true);

  // Spoofing: a sends with c's address (added to its interface so the kernel lets it).
  await sh(`${prefix}a`, ['ip', 'addr', 'add', `${pods.c}/32`, 'dev', 'eth0']);
  calc.apply({ kind: 'Policy', key: 'icmp', value: null });
  await rec.apply(renderNft(calc.resolve()));
  assert.equal(await ping('a', pods.b), true);
  assert.equal(await ping('a', pods.b, pods.c), false, 'source address not owned by a: dropped');
  await rec.remove();
});
