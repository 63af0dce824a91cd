/**
 * Dual-stack labs (`lab up --ipv6`, needs `make build`): every pod has an IPv4 and an IPv6 address,
 * both families reach every other pod (TCP and UDP), IPv6 routes have the same shapes as IPv4
 * (blackhole /122 per local block, remote blocks natively via the owner's IPv6 address or
 * `via <tunnel IPv6> onlink` over `tessera.vxlan6`, CrossSubnet choosing per subnet), and IPv6
 * traffic is subject to policy like IPv4.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { labDown, labUp, loadLab, matrix, podCreate, type PodState } from '../src/lab/index.js';
import { run } from '../src/lib/exec.js';
import { ROUTE_PROTOCOL, VXLAN_V6_DEVICE } from '../src/lib/marks.js';
import { eventually, type IpRoute } from './helpers/lab.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'tessera');
const v6 = (ips: string[]) => ips.find((a) => a.includes(':'));

function dualStackLab(encapsulation: 'vxlan' | 'vxlan-crosssubnet', subnets: number): void {
  const name = `tsv6${randomBytes(3).toString('hex')}`;
  const cfgDir = mkdtempSync(join(tmpdir(), 'tessera-ipv6-'));
  const env = { ...process.env, TESSERA_CONFIG: join(cfgDir, 'config.json') };
  const lab = () => loadLab(name, env);
  const pods: PodState[] = [];

  before(async () => {
    await labUp({ name, nodes: 3, subnets, encapsulation, ipv6: true }, { env });
    for (let i = 1; i <= 3; i++) pods.push(await podCreate(lab(), `x/p${i}`, { node: `node-${i}` }));
  });
  after(async () => {
    await labDown(name, { env }).catch(() => undefined);
    rmSync(cfgDir, { recursive: true, force: true });
  });

  const fullMatrix = async (family: 4 | 6, protocol: 'TCP' | 'UDP') =>
    eventually(15_000, async () => {
      const m = await matrix(lab(), { port: 80, protocol, family, timeoutMs: 1000 });
      const failed = Object.entries(m.allowed).flatMap(([from, row]) =>
        Object.entries(row)
          .filter(([, ok]) => !ok)
          .map(([to]) => `${from}->${to}`),
      );
      assert.equal(m.pods.length, 3);
      assert.deepEqual(failed, [], `IPv${family} ${protocol}`);
    });

  test('nodes and pods have both families; every pod reaches every other over IPv4 and IPv6, TCP and UDP', async () => {
    for (const n of lab().nodes) assert.ok(v6(n.ips), `${n.name} has an IPv6 address: ${n.ips.join(', ')}`);
    for (const p of pods) {
      assert.equal(p.ips.length, 2, `${p.name}: ${p.ips.join(', ')}`);
      assert.ok(
        v6(p.ips)?.startsWith('fd00:10:244:'),
        `${p.name} has an address from the IPv6 pool: ${p.ips.join(', ')}`,
      );
    }
    for (const family of [6, 4] as const)
      for (const protocol of ['TCP', 'UDP'] as const) await fullMatrix(family, protocol);
  });

  test(`IPv6 routes have the ${encapsulation} shape, marked proto ${ROUTE_PROTOCOL}`, async () => {
    const s = lab();
    const subnetOf = (node: string) => s.nodes.find((n) => n.name === node)!.subnet;
    await eventually(15_000, async () => {
      const blocks = new Map<string, string>();
      for (const n of s.nodes) {
        const own = JSON.parse(
          (
            await run([
              'ip',
              '-j',
              '-6',
              '-n',
              n.netns,
              'route',
              'show',
              'proto',
              String(ROUTE_PROTOCOL),
              'type',
              'blackhole',
            ])
          ).stdout,
        ) as IpRoute[];
        assert.equal(own.length, 1, `${n.name} blackholes one IPv6 block: ${JSON.stringify(own)}`);
        assert.match(own[0]!.dst, /\/122$/);
        blocks.set(n.name, own[0]!.dst);
      }
      for (const n of s.nodes) {
        const routes = JSON.parse(
          (await run(['ip', '-j', '-6', '-n', n.netns, 'route', 'show', 'proto', String(ROUTE_PROTOCOL)])).stdout,
        ) as IpRoute[];
        const local = pods.find((p) => p.node === n.name)!;
        assert.ok(
          routes.some((r) => r.dst === v6(local.ips) && r.dev?.startsWith('tsr')),
          `${n.name}: /128 to its pod: ${JSON.stringify(routes)}`,
        );
        for (const [owner, block] of blocks) {
          if (owner === n.name) continue;
          const r = routes.find((x) => x.dst === block);
          assert.ok(r, `${n.name}: no route to ${owner}'s IPv6 block ${block}: ${JSON.stringify(routes)}`);
          const ownerIp = v6(s.nodes.find((x) => x.name === owner)!.ips)!;
          const encapsulated = encapsulation === 'vxlan' || subnetOf(owner) !== n.subnet;
          if (encapsulated) {
            assert.equal(r.dev, VXLAN_V6_DEVICE, `${n.name} -> ${owner}: ${JSON.stringify(r)}`);
            assert.ok(r.flags?.includes('onlink'), `${n.name} -> ${owner} onlink: ${JSON.stringify(r)}`);
          } else {
            assert.deepEqual(
              [r.gateway, r.dev],
              [ownerIp, 'eth0'],
              `${n.name} -> ${owner} natively: ${JSON.stringify(r)}`,
            );
          }
        }
      }
    });
  });

  test('IPv6 traffic is subject to policy: a default-deny ingress policy closes p3 over both families', async () => {
    const f = join(cfgDir, 'deny.yaml');
    writeFileSync(
      f,
      [
        'apiVersion: networking.k8s.io/v1',
        'kind: NetworkPolicy',
        'metadata: { name: deny-p3, namespace: x }',
        'spec:',
        '  podSelector: { matchLabels: { app: p3 } }',
        '  policyTypes: [Ingress]',
        '',
      ].join('\n'),
    );
    const r = await run([BIN, 'apply', '-f', f], { env, check: false });
    assert.equal(r.code, 0, r.stderr);
    for (const family of [6, 4] as const) {
      await eventually(15_000, async () => {
        const m = await matrix(lab(), { port: 80, protocol: 'TCP', family, timeoutMs: 1000 });
        assert.deepEqual(
          [
            m.allowed['x/p1']?.['x/p3'],
            m.allowed['x/p2']?.['x/p3'],
            m.allowed['x/p3']?.['x/p1'],
            m.allowed['x/p1']?.['x/p2'],
          ],
          [false, false, true, true],
          `IPv${family}: ${JSON.stringify(m.allowed)}`,
        );
      });
    }
  });
}

describe('dual-stack lab, VXLAN (3 nodes)', { timeout: 240_000 }, () => dualStackLab('vxlan', 1));
describe('dual-stack lab, VXLAN CrossSubnet (2 subnets, 3 nodes)', { timeout: 240_000 }, () =>
  dualStackLab('vxlan-crosssubnet', 2),
);
