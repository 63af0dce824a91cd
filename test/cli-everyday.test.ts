/**
 * The everyday operator path (issue 18), against the real CLI code on an in-memory datastore:
 * round trips of every kind are no-ops, status is Tessera's, destructive operations are safe, and
 * messages are said once.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseManifests, lookupKind, type Resource } from '../src/api/index.js';
import { resourceCliStore } from '../src/cli/open-store.js';
import { MemoryBackend, ResourceStore } from '../src/datastore/index.js';
import { IpamClient, putNode } from '../src/ipam/index.js';
import { readCliConfig, resolveDatastore } from '../src/lib/context.js';
import { run } from '../src/lib/exec.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { ipamCheckVerb, ipamReleaseVerb } from '../src/cli/commands/ipam.js';
import { nodeStatusVerb } from '../src/cli/commands/node.js';
import { harness } from './cli-helpers.js';

const EXAMPLES = join(import.meta.dirname, '..', 'src', 'api', 'testdata', 'examples');

function setup() {
  const backend = new MemoryBackend();
  const rs = new ResourceStore(backend);
  const h = harness(resourceCliStore(rs, backend));
  return { backend, rs, h };
}

describe('round trip: get -o yaml applies back as a no-op', () => {
  test('every kind in the examples (objects with their fields set): apply, read back, apply again, revision unchanged', async () => {
    const { backend, h } = setup();
    try {
      const files = readdirSync(EXAMPLES)
        .filter((f) => f.endsWith('.yaml'))
        .sort();
      const all = files.flatMap((f) => parseManifests(readFileSync(join(EXAMPLES, f), 'utf8'), f));
      const kinds = new Set(all.map((r) => r.kind));
      assert.ok(kinds.size >= 20, `examples cover ${kinds.size} kinds`);
      // Dependencies first (tiers before tiered policies, namespaces before namespaced objects).
      const first = await h.run(['apply', ...files.flatMap((f) => ['-f', join(EXAMPLES, f)])]);
      assert.equal(first.code, 0, first.err);
      for (const r of all) {
        const info = lookupKind(
          r.kind === 'NetworkPolicy' && r.apiVersion !== 'projectcalico.org/v3' ? 'knp' : r.kind,
        )!;
        const name = info.namespaced ? `${r.metadata.namespace ?? 'default'}/${r.metadata.name}` : r.metadata.name;
        const got = await h.run(['get', info.plural, name, '-o', 'yaml']);
        assert.equal(got.code, 0, `${r.kind} ${name}: ${got.err}`);
        const before = await backend.revision();
        const again = await h.run(['apply', '-f', h.file(`rt-${r.kind}-${r.metadata.name}.yaml`, got.out)]);
        assert.equal(again.code, 0, `${r.kind} ${name} applies back: ${again.err}`);
        assert.match(again.out, /\(1 unchanged\)/, `${r.kind} ${name}`);
        assert.equal(
          await backend.revision(),
          before,
          `${r.kind} ${name}: applying what get printed moved the revision`,
        );
      }
      // Listing output (IPPoolList) applies back as a no-op too.
      const list = await h.run(['get', 'ippools', '-o', 'yaml']);
      assert.match(list.out, /^apiVersion: projectcalico\.org\/v3\nkind: IPPoolList\n/);
      const before = await backend.revision();
      assert.equal((await h.run(['apply', '-f', h.file('pools.yaml', list.out)])).code, 0);
      assert.equal(await backend.revision(), before);
    } finally {
      await h.cleanup();
    }
  });

  test('a Node with agent-written status: patch (Calico route-reflector recipe), label, get|apply; a user edit of status is ignored', async () => {
    const { rs, h } = setup();
    try {
      const info = lookupKind('Node')!;
      await rs.create({
        apiVersion: 'projectcalico.org/v3',
        kind: 'Node',
        metadata: { name: 'node-1' },
        spec: { bgp: { ipv4Address: '10.0.0.1/24' } },
      } as Resource);
      const cur = (await rs.get(info, 'node-1'))!;
      const conditions = [
        { type: 'Ready', status: 'True', reason: 'DataplaneProgrammed', message: '' },
        { type: 'DataplaneProblems', status: 'False', reason: 'None', message: '' },
      ];
      await rs.update({ ...cur, status: { conditions } } as Resource);
      const p = await h.run([
        'patch',
        'node',
        'node-1',
        '-p',
        '{"spec":{"bgp":{"routeReflectorClusterID":"244.0.0.1"}}}',
      ]);
      assert.equal(p.code, 0, p.err);
      const l = await h.run(['label', 'node', 'node-1', 'route-reflector=true']);
      assert.equal(l.code, 0, l.err);
      const after = (await rs.get(info, 'node-1')) as Resource & {
        status?: unknown;
        spec: { bgp: Record<string, unknown> };
      };
      assert.equal(after.spec.bgp['routeReflectorClusterID'], '244.0.0.1');
      assert.deepEqual(after.status, { conditions }, 'status kept as the agent wrote it');
      const yaml = (await h.run(['get', 'node', 'node-1', '-o', 'yaml'])).out;
      assert.match(yaml, /conditions:/);
      assert.equal((await h.run(['validate', '-f', h.file('node.yaml', yaml)])).code, 0, 'what get prints validates');
      const rv = after.metadata.resourceVersion;
      const back = await h.run(['apply', '-f', h.file('node2.yaml', yaml)]);
      assert.equal(back.code, 0, back.err);
      assert.equal((await rs.get(info, 'node-1'))!.metadata.resourceVersion, rv, 'no-op');
      // Edited status (and a spec change) in the file: the spec change lands, the status does not.
      const edited = yaml
        .replace(/\n\s*resourceVersion: .*/, '')
        .replace(/status: "?True"?/, 'status: "False"')
        .replace('244.0.0.1', '244.0.0.2');
      assert.match(edited, /type: Ready\n\s+status: "False"/, 'the file edits the status');
      const ed = await h.run(['apply', '-f', h.file('node3.yaml', edited)]);
      assert.equal(ed.code, 0, ed.err);
      const final = (await rs.get(info, 'node-1')) as Resource & {
        status?: unknown;
        spec: { bgp: Record<string, unknown> };
      };
      assert.equal(final.spec.bgp['routeReflectorClusterID'], '244.0.0.2');
      assert.deepEqual(final.status, { conditions });
      const ps = await h.run(['patch', 'node', 'node-1', '-p', '{"status":{"conditions":[]}}']);
      assert.equal(ps.code, 0, ps.err);
      assert.match(ps.err, /status is written by Tessera; the patch's "status" was ignored/);
      assert.deepEqual(((await rs.get(info, 'node-1')) as Resource & { status?: unknown }).status, { conditions });
    } finally {
      await h.cleanup();
    }
  });

  test('a stale file is refused with "the resource was modified; get it again"', async () => {
    const { h } = setup();
    try {
      const pool =
        'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: p1\nspec:\n  cidr: 10.9.0.0/16\n';
      assert.equal((await h.run(['apply', '-f', h.file('p.yaml', pool)])).code, 0);
      const old = (await h.run(['get', 'ippool', 'p1', '-o', 'yaml'])).out;
      assert.equal((await h.run(['patch', 'ippool', 'p1', '-p', '{"spec":{"natOutgoing":true}}'])).code, 0);
      const r = await h.run(['apply', '-f', h.file('old.yaml', old)]);
      assert.equal(r.code, 1);
      assert.match(
        r.err,
        /IPPool "p1": the resource was modified since it was read \(resourceVersion "\d+", now "\d+"\); get it again/,
      );
      assert.doesNotMatch(r.err, /compare failed/);
    } finally {
      await h.cleanup();
    }
  });
});

describe('destructive operations are safe', () => {
  test('a tier with policies cannot be deleted (the message names them); built-in tiers never', async () => {
    const { h } = setup();
    try {
      const docs = [
        'apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata:\n  name: platform\nspec:\n  order: 100\n',
        '---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: platform.a\nspec:\n  tier: platform\n  selector: all()\n',
        '---\napiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: platform.b\n  namespace: shop\nspec:\n  tier: platform\n  selector: all()\n',
      ].join('');
      assert.equal((await h.run(['apply', '-f', h.file('t.yaml', docs)])).code, 0);
      const r = await h.run(['delete', 'tier', 'platform']);
      assert.equal(r.code, 1);
      assert.match(
        r.err,
        /Tier "platform": the tier still has 2 policies \(GlobalNetworkPolicy "platform\.a", NetworkPolicy "shop\/platform\.b"\); delete them first/,
      );
      assert.equal((await h.run(['get', 'tier', 'platform'])).code, 0, 'still there');
      assert.equal((await h.run(['delete', 'gnp', 'platform.a'])).code, 0);
      assert.equal((await h.run(['delete', 'networkpolicy', 'shop/platform.b'])).code, 0);
      assert.equal((await h.run(['delete', 'tier', 'platform'])).code, 0);
      const d = await h.run(['delete', 'tier', 'default']);
      assert.equal(d.code, 1);
      assert.match(d.err, /built-in tier/);
    } finally {
      await h.cleanup();
    }
  });

  test('an enabled pool with allocations cannot be deleted; disabled first (Calico migration), it can', async () => {
    const { backend, h } = setup();
    try {
      const pool =
        'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: p1\nspec:\n  cidr: 10.9.0.0/16\n';
      assert.equal((await h.run(['apply', '-f', h.file('p.yaml', pool)])).code, 0);
      await putNode(backend, 'node-1', {});
      await new IpamClient(backend).autoAssign({
        num4: 1,
        num6: 0,
        handleId: 'net.c1',
        attrs: { namespace: 'shop', pod: 'web', node: 'node-1', timestamp: '2026-01-01T00:00:00Z' },
        hostname: 'node-1',
      });
      const r = await h.run(['delete', 'ippool', 'p1']);
      assert.equal(r.code, 1);
      assert.match(r.err, /IPPool "p1": the pool still has 1 allocated address\(es\); disable it first/);
      assert.equal((await h.run(['patch', 'ippool', 'p1', '-p', '{"spec":{"disabled":true}}'])).code, 0);
      assert.equal((await h.run(['delete', 'ippool', 'p1'])).code, 0);
    } finally {
      await h.cleanup();
    }
  });
});

describe('what get shows', () => {
  test('get tiers includes the built-in tiers; get profiles shows kns.* and ksa.* profiles', async () => {
    const { h } = setup();
    try {
      const tiers = await h.run(['get', 'tiers']);
      assert.match(tiers.out, /^default\s+1000000$/m);
      const docs =
        'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n    team: a\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web\n  namespace: shop\n';
      assert.equal((await h.run(['apply', '-f', h.file('ns.yaml', docs)])).code, 0);
      const profiles = await h.run(['get', 'profiles']);
      assert.match(profiles.out, /^kns\.shop$/m);
      assert.match(profiles.out, /^ksa\.shop\.web$/m);
      const one = await h.run(['get', 'profile', 'kns.shop', '-o', 'yaml']);
      assert.equal(one.code, 0, one.err);
      assert.match(one.out, /pcns\.team: a/);
    } finally {
      await h.cleanup();
    }
  });

  test('malformed YAML and an unknown kind are reported once', async () => {
    const { h } = setup();
    try {
      const bad = await h.run(['validate', '-f', h.file('bad.yaml', 'a: [\n')]);
      assert.equal(bad.code, 1);
      assert.equal(bad.err.trim().split('\n').length, 1, bad.err);
      const unknown = await h.run([
        'validate',
        '-f',
        h.file('u.yaml', 'apiVersion: projectcalico.org/v3\nkind: Foo\nmetadata:\n  name: x\n'),
      ]);
      assert.equal(unknown.code, 1);
      assert.equal(unknown.err.trim().split('\n').length, 1, unknown.err);
    } finally {
      await h.cleanup();
    }
  });
});

test("calicoctl's environment variables select the datastore", () => {
  const ds = resolveDatastore({
    env: {
      ETCD_ENDPOINTS: 'https://10.0.0.1:2379,https://10.0.0.2:2379',
      ETCD_CA_CERT_FILE: '/ca',
      ETCD_CERT_FILE: '/c',
      ETCD_KEY_FILE: '/k',
      DATASTORE_TYPE: 'etcdv3',
      HOME: '/nonexistent',
    },
  });
  assert.deepEqual(ds.endpoints, ['https://10.0.0.1:2379', 'https://10.0.0.2:2379']);
  assert.deepEqual(ds.tls, { caFile: '/ca', certFile: '/c', keyFile: '/k' });
  assert.equal(ds.source, 'ETCD_ENDPOINTS');
  assert.throws(
    () => resolveDatastore({ env: { ETCD_ENDPOINTS: 'http://x:2379', DATASTORE_TYPE: 'kubernetes' } }),
    /DATASTORE_TYPE "kubernetes" is not supported/,
  );
});

test('ipam release --ip of an address a live pod uses is refused without --force; ipam check then finds it', async () => {
  const backend = new MemoryBackend();
  const rs = new ResourceStore(backend);
  await rs.create({
    apiVersion: 'projectcalico.org/v3',
    kind: 'IPPool',
    metadata: { name: 'p1' },
    spec: { cidr: '10.9.0.0/16', blockSize: 26 },
  } as Resource);
  await putNode(backend, 'node-1', {});
  const got = await new IpamClient(backend).autoAssign({
    num4: 1,
    num6: 0,
    handleId: 'net.c1',
    attrs: { namespace: 'shop', pod: 'web', node: 'node-1', timestamp: '2026-01-01T00:00:00Z' },
    hostname: 'node-1',
  });
  const ip = got.ipv4[0]!.address;
  await rs.create({
    apiVersion: 'projectcalico.org/v3',
    kind: 'WorkloadEndpoint',
    metadata: { name: 'node--1-k8s-web-eth0', namespace: 'shop' },
    spec: {
      node: 'node-1',
      pod: 'web',
      containerID: 'c1',
      endpoint: 'eth0',
      interfaceName: 'tsr1',
      ipNetworks: [`${ip}/32`],
    },
  } as Resource);
  let out = '';
  const deps = { backend, out: (t: string) => void (out += t) };
  await assert.rejects(ipamReleaseVerb({ ip: [ip] }, deps), (err: Error) => {
    assert.match(
      err.message,
      new RegExp(
        `cannot release ${ip.replace(/\./g, '\\.')} \\(pod shop/web\\): still in use by a live workload; nothing was released \\(use --force`,
      ),
    );
    return true;
  });
  const clean = await ipamCheckVerb({}, deps);
  assert.equal(clean.problems, 0, out);
  await ipamReleaseVerb({ ip: [ip], force: true }, deps);
  const report = await ipamCheckVerb({}, deps);
  assert.deepEqual(report.inUseNotAllocated, [{ address: `${ip}/32`, endpoint: 'shop/node--1-k8s-web-eth0' }]);
  // Allocations whose pool is gone are reported too.
  await new IpamClient(backend).autoAssign({
    num4: 1,
    num6: 0,
    handleId: 'net.c2',
    attrs: { namespace: 'shop', pod: 'db', node: 'node-1', timestamp: 'x' },
    hostname: 'node-1',
  });
  await rs.delete(lookupKind('IPPool')!, 'p1');
  const gone = await ipamCheckVerb({}, deps);
  assert.equal(gone.outsidePools?.length, 1, out);
});

test('concurrent CLI config writers (lab up / context use at once) lose no context', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cl-config-'));
  const cfg = join(dir, 'config.json');
  try {
    const script =
      'const m = await import(process.argv[1]); const w = process.argv[2];' +
      "for (let i = 0; i < 15; i++) m.setContext(`w${w}-${i}`, { etcdEndpoints: ['http://127.0.0.1:2379'] }, { makeCurrent: true, env: { TESSERA_CONFIG: process.argv[3] } });";
    const ctxModule = pathToFileURL(join(import.meta.dirname, '..', 'src', 'lib', 'context.ts')).href;
    const writers = [1, 2, 3, 4, 5].map((w) =>
      run([process.execPath, '--import', 'tsx', '--input-type=module', '-e', script, ctxModule, String(w), cfg], {
        timeoutMs: 60_000,
      }),
    );
    await Promise.all(writers);
    const final = readCliConfig({ TESSERA_CONFIG: cfg });
    assert.equal(Object.keys(final.contexts).length, 75, "every writer's every context is there");
    assert.ok(final.currentContext && final.currentContext in final.contexts);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('[doc N] in batch problems counts documents within their own file', async () => {
  const { h } = setup();
  try {
    const a = h.file(
      'a.yaml',
      'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: p1\nspec:\n  cidr: 10.7.0.0/16\n',
    );
    const b = h.file(
      'b.yaml',
      'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n---\napiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: p2\nspec:\n  cidr: 10.7.1.0/24\n',
    );
    const r = await h.run(['apply', '-f', a, '-f', b]);
    assert.equal(r.code, 1);
    assert.match(r.err, /b\.yaml: \[doc 2\]/, r.err);
    assert.doesNotMatch(r.err, /\[doc 3\]/, r.err);
  } finally {
    await h.cleanup();
  }
});

test("node status without NODE on a lab host points at the lab nodes' BIRD sockets", async () => {
  const socket = '/run/tessera/labs/cl-x/nodes/node-1/bird/bird.ctl';
  await assert.rejects(
    nodeStatusVerb(
      {},
      {
        out: () => undefined,
        env: {},
        readStatus: async () => undefined,
        birdc: async () => undefined,
        labBirdSockets: () => [{ lab: 'cl-x', node: 'node-1', socket }],
      },
    ),
    (err: Error) => {
      assert.match(err.message, /cannot reach BIRD on "\/run\/tessera\/bird\/bird\.ctl"/);
      assert.match(
        err.message,
        /lab "cl-x" runs one BIRD per node: give NODE \(e\.g\. `tessera node status node-1`\) or --bird-socket \/run\/tessera\/labs\/cl-x\/nodes\/node-1\/bird\/bird\.ctl \(node-1\)/,
      );
      return true;
    },
  );
});
