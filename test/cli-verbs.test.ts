/** CLI verbs against an in-memory datastore: semantics, messages, exit codes. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lookupKind, type KindInfo, type Resource } from '../src/api/index.js';
import { TesseraError } from '../src/lib/errors.js';
import { memoryCliStore } from '../src/cli/open-store.js';
import type { CliStore } from '../src/cli/store.js';
import { CALICO_NP, NAMESPACE, POOL, docs, harness } from './cli-helpers.js';

const kind = (n: string): KindInfo => {
  const k = lookupKind(n);
  assert.ok(k, n);
  return k;
};
const IPPOOL = kind('ippool');
/** `base` with its `update` replaced (the store's methods delegate, so `this` stays `base`). */
const withUpdate = (base: CliStore, update: CliStore['update']): CliStore => ({
  get: (r) => base.get(r),
  list: (i, ns) => base.list(i, ns),
  create: (r) => base.create(r),
  applyBatch: (rs) => base.applyBatch(rs),
  delete: (r) => base.delete(r),
  close: () => base.close(),
  update,
});
const NETPOL = kind('networkpolicy');
const NS = kind('namespace');
const POD = kind('pod');

async function snapshot(store: CliStore): Promise<string> {
  const all: Resource[] = [];
  for (const k of [IPPOOL, NETPOL, NS, POD, kind('tier'), kind('gnp')]) all.push(...(await store.list(k)));
  return JSON.stringify(all);
}

describe('apply', () => {
  test('applies every document of a multi-document file in one batch and reports the kind', async (t) => {
    const h = harness();
    t.after(() => h.cleanup());
    const f = h.file('pools.yaml', docs(POOL('p1', '10.1.0.0/16'), POOL('p2', '10.2.0.0/16')));
    const r = await h.run(['apply', '-f', f]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, "Successfully applied 2 'IPPool' resource(s)\n");
    const stored = await h.store.get({ info: IPPOOL, name: 'p2' });
    assert.equal((stored?.spec as { cidr?: string }).cidr, '10.2.0.0/16');
    assert.ok(stored?.metadata.resourceVersion, 'resourceVersion is filled in on read');
  });

  test('a directory is read in name order, *.yaml|*.yml|*.json only; mixed kinds say resource(s)', async (t) => {
    const h = harness();
    t.after(() => h.cleanup());
    h.file('b.yml', CALICO_NP('shop', 'np1'));
    h.file('a.yaml', NAMESPACE('shop'));
    h.file(
      'c.json',
      JSON.stringify({
        apiVersion: 'projectcalico.org/v3',
        kind: 'IPPool',
        metadata: { name: 'pj' },
        spec: { cidr: '10.9.0.0/16' },
      }),
    );
    h.file('notes.txt', 'not a manifest: {{{');
    const r = await h.run(['apply', '-f', h.dir]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'Successfully applied 3 resource(s)\n');
    assert.ok(await h.store.get({ info: NETPOL, name: 'np1', namespace: 'shop' }));
    assert.ok(await h.store.get({ info: IPPOOL, name: 'pj' }));
  });

  test('one invalid document writes nothing and lists every problem with its field path (exit 1)', async (t) => {
    const h = harness();
    t.after(() => h.cleanup());
    await h.run(['apply', '-f', h.file('seed.yaml', POOL('seed', '10.0.0.0/16'))]);
    const before = await snapshot(h.store);
    const bad = `apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata:
  name: broken
  namespace: shop
spec:
  selector: "app == 'api"
  ingress:
    - action: Allwo
`;
    const f = h.file('batch.yaml', docs(POOL('good', '10.5.0.0/16'), NAMESPACE('shop'), bad));
    const r = await h.run(['apply', '-f', f]);
    assert.equal(r.code, 1);
    assert.match(r.err, /nothing was written/);
    assert.match(r.err, /NetworkPolicy "shop\/broken": spec\.selector: /);
    assert.match(r.err, /spec\.ingress\[0\]\.action: /);
    assert.doesNotMatch(r.err, /    at /, 'no stack trace');
    assert.equal(await snapshot(h.store), before, 'datastore unchanged');
  });

  test('a pool overlapping an existing pool is refused by batch validation', async (t) => {
    const h = harness();
    t.after(() => h.cleanup());
    assert.equal((await h.run(['apply', '-f', h.file('a.yaml', POOL('a', '10.0.0.0/16'))])).code, 0);
    const before = await snapshot(h.store);
    const r = await h.run([
      'apply',
      '-f',
      h.file('b.yaml', docs(POOL('ok', '10.7.0.0/16'), POOL('b', '10.0.128.0/17'))),
    ]);
    assert.equal(r.code, 1, r.out);
    assert.match(r.err, /10\.0\.128\.0\/17|overlap/);
    assert.equal(await snapshot(h.store), before);
  });

  test('re-applying an existing pool with a change is an update, not an overlap with itself', async (t) => {
    const h = harness();
    t.after(() => h.cleanup());
    assert.equal((await h.run(['apply', '-f', h.file('a.yaml', POOL('a', '10.0.0.0/16'))])).code, 0);
    const r = await h.run(['apply', '-f', h.file('a2.yaml', POOL('a', '10.0.0.0/16', '  disabled: true\n'))]);
    assert.equal(r.code, 0, r.err);
    assert.equal(((await h.store.get({ info: IPPOOL, name: 'a' }))?.spec as { disabled?: boolean }).disabled, true);
  });

  test('reads stdin with -f -', async (t) => {
    const h = harness();
    t.after(() => h.cleanup());
    const r = await h.run(['apply', '-f', '-'], POOL('fromstdin', '10.3.0.0/16'));
    assert.equal(r.code, 0, r.err);
    assert.ok(await h.store.get({ info: IPPOOL, name: 'fromstdin' }));
  });

  test('-n fills the namespace; a different namespace in the manifest is a usage error', async (t) => {
    const h = harness();
    t.after(() => h.cleanup());
    const noNs = CALICO_NP('x', 'np').replace('  namespace: x\n', '');
    assert.equal((await h.run(['apply', '-n', 'team1', '-f', h.file('np.yaml', noNs)])).code, 0);
    assert.ok(await h.store.get({ info: NETPOL, name: 'np', namespace: 'team1' }));
    const r = await h.run(['apply', '-n', 'other', '-f', h.file('np2.yaml', CALICO_NP('x', 'np'))]);
    assert.equal(r.code, 2);
    assert.match(r.err, /does not match -n "other"/);
  });

  test('usage errors exit 2: missing -f, unknown verb, unknown option, missing file', async (t) => {
    const h = harness();
    t.after(() => h.cleanup());
    assert.equal((await h.run(['apply'])).code, 2);
    assert.equal((await h.run(['frobnicate'])).code, 2);
    assert.equal((await h.run(['get', 'ippools', '--bogus'])).code, 2);
    const r = await h.run(['apply', '-f', '/nonexistent/file.yaml']);
    assert.equal(r.code, 2);
    assert.match(r.err, /"\/nonexistent\/file\.yaml"/);
  });

  test('unparseable YAML is a validation error (exit 1) naming the file', async (t) => {
    const h = harness();
    t.after(() => h.cleanup());
    const f = h.file('bad.yaml', 'kind: [unclosed\n');
    const r = await h.run(['apply', '-f', f]);
    assert.equal(r.code, 1);
    assert.ok(r.err.includes(f), r.err);
  });
});

describe('create', () => {
  test('fails on an existing object and creates none of the batch (exit 1)', async (t) => {
    const h = harness();
    t.after(() => h.cleanup());
    assert.equal((await h.run(['create', '-f', h.file('a.yaml', POOL('a', '10.0.0.0/16'))])).code, 0);
    const f = h.file('ab.yaml', docs(POOL('b', '10.1.0.0/16'), POOL('a', '10.0.0.0/16')));
    const r = await h.run(['create', '-f', f]);
    assert.equal(r.code, 1);
    assert.match(r.err, /IPPool "a": resource already exists/);
    assert.equal(await h.store.get({ info: IPPOOL, name: 'b' }), undefined);
  });

  test('--skip-exists creates only the missing ones and leaves existing ones untouched', async (t) => {
    const h = harness();
    t.after(() => h.cleanup());
    await h.run(['create', '-f', h.file('a.yaml', POOL('a', '10.0.0.0/16'))]);
    const rvBefore = (await h.store.get({ info: IPPOOL, name: 'a' }))?.metadata.resourceVersion;
    const f = h.file('ab.yaml', docs(POOL('b', '10.1.0.0/16'), POOL('a', '10.0.0.0/16', '  disabled: true\n')));
    const r = await h.run(['create', '--skip-exists', '-f', f]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, "Successfully created 1 'IPPool' resource(s) (skipped 1 that already existed)\n");
    assert.ok(await h.store.get({ info: IPPOOL, name: 'b' }));
    const a = await h.store.get({ info: IPPOOL, name: 'a' });
    assert.equal(a?.metadata.resourceVersion, rvBefore);
    assert.notEqual((a?.spec as { disabled?: boolean }).disabled, true);
  });
});

describe('replace', () => {
  test('requires existence unless --skip-not-exists', async (t) => {
    const h = harness();
    t.after(() => h.cleanup());
    const f = h.file('a.yaml', POOL('a', '10.0.0.0/16'));
    const r = await h.run(['replace', '-f', f]);
    assert.equal(r.code, 1);
    assert.match(r.err, /IPPool "a": resource does not exist/);
    assert.equal(await h.store.get({ info: IPPOOL, name: 'a' }), undefined);
    const s = await h.run(['replace', '--skip-not-exists', '-f', f]);
    assert.equal(s.code, 0, s.err);
    assert.equal(await h.store.get({ info: IPPOOL, name: 'a' }), undefined, 'skipped, not created');
  });

  test('overwrites an existing object', async (t) => {
    const h = harness();
    t.after(() => h.cleanup());
    await h.run(['apply', '-f', h.file('a.yaml', POOL('a', '10.0.0.0/16'))]);
    const r = await h.run(['replace', '-f', h.file('a2.yaml', POOL('a', '10.0.0.0/16', '  disabled: true\n'))]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, "Successfully replaced 1 'IPPool' resource(s)\n");
    assert.equal(((await h.store.get({ info: IPPOOL, name: 'a' }))?.spec as { disabled?: boolean }).disabled, true);
  });

  test('a stale metadata.resourceVersion is refused with a conflict (CAS), object unchanged', async (t) => {
    const h = harness();
    t.after(() => h.cleanup());
    await h.run(['apply', '-f', h.file('a.yaml', POOL('a', '10.0.0.0/16'))]);
    const old = (await h.store.get({ info: IPPOOL, name: 'a' }))!.metadata.resourceVersion!;
    await h.run(['label', 'ippool', 'a', 'x=1']);
    const stale = POOL('a', '10.0.0.0/16', '  disabled: true\n').replace(
      '  name: a\n',
      `  name: a\n  resourceVersion: "${old}"\n`,
    );
    const r = await h.run(['replace', '-f', h.file('stale.yaml', stale)]);
    assert.equal(r.code, 1);
    assert.match(r.err, /resourceVersion "\d+"/);
    assert.notEqual(((await h.store.get({ info: IPPOOL, name: 'a' }))?.spec as { disabled?: boolean }).disabled, true);
  });
});

describe('delete', () => {
  test('by kind and names, by short name, and reports missing ones (exit 1)', async (t) => {
    const h = harness();
    t.after(() => h.cleanup());
    await h.run(['apply', '-f', h.file('p.yaml', docs(POOL('a', '10.0.0.0/16'), POOL('b', '10.1.0.0/16')))]);
    const r = await h.run(['delete', 'pools', 'a', 'missing']);
    assert.equal(r.code, 1);
    assert.equal(r.out, "Successfully deleted 1 'IPPool' resource(s)\n");
    assert.match(r.err, /IPPool "missing": resource does not exist/);
    assert.equal(await h.store.get({ info: IPPOOL, name: 'a' }), undefined);
    const s = await h.run(['delete', 'ipp', 'b', 'missing', '--skip-not-exists']);
    assert.equal(s.code, 0, s.err);
    assert.equal(await h.store.get({ info: IPPOOL, name: 'b' }), undefined);
  });

  test('by file, namespaced objects in their namespace', async (t) => {
    const h = harness();
    t.after(() => h.cleanup());
    const f = h.file('np.yaml', docs(CALICO_NP('ns1', 'a'), CALICO_NP('ns2', 'a')));
    await h.run(['apply', '-f', f]);
    const r = await h.run(['delete', '-f', h.file('one.yaml', CALICO_NP('ns1', 'a'))]);
    assert.equal(r.code, 0, r.err);
    assert.equal(await h.store.get({ info: NETPOL, name: 'a', namespace: 'ns1' }), undefined);
    assert.ok(await h.store.get({ info: NETPOL, name: 'a', namespace: 'ns2' }));
  });

  test('without names or files is a usage error', async (t) => {
    const h = harness();
    t.after(() => h.cleanup());
    assert.equal((await h.run(['delete', 'ippool'])).code, 2);
    assert.equal((await h.run(['delete'])).code, 2);
  });
});

describe('get', () => {
  async function seeded(t: { after(fn: () => Promise<void>): void }) {
    const h = harness();
    t.after(() => h.cleanup());
    const r = await h.run([
      'apply',
      '-f',
      h.file(
        's.yaml',
        docs(
          POOL('pool-b', '10.1.0.0/16'),
          POOL('pool-a', '10.0.0.0/16'),
          CALICO_NP('ns1', 'np1'),
          CALICO_NP('ns2', 'np2'),
        ),
      ),
    ]);
    assert.equal(r.code, 0, r.err);
    return h;
  }

  test("table per kind, sorted, with the kind's columns (IPPool: NAME CIDR SELECTOR)", async (t) => {
    const h = await seeded(t);
    const r = await h.run(['get', 'ippools']);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trimEnd().split('\n');
    assert.match(lines[0]!, /^NAME\s+CIDR\s+SELECTOR$/);
    assert.match(lines[1]!, /^pool-a\s+10\.0\.0\.0\/16\s+all\(\)$/);
    assert.match(lines[2]!, /^pool-b\s+10\.1\.0\.0\/16/);
    assert.equal(lines[1]!.indexOf('10.0'), lines[0]!.indexOf('CIDR'), 'columns aligned');
    const wide = await h.run(['get', 'ippool', '-o', 'wide']);
    assert.match(wide.out.split('\n')[0]!, /NAT.*IPIPMODE.*VXLANMODE/);
  });

  test('namespaced kinds: -n, default namespace, -A adds NAMESPACE', async (t) => {
    const h = await seeded(t);
    const inDefault = await h.run(['get', 'networkpolicies']);
    assert.equal(inDefault.out.trimEnd().split('\n').length, 1, 'only a header: nothing in "default"');
    const ns1 = await h.run(['get', 'netpol', '-n', 'ns1']);
    assert.match(ns1.out, /np1/);
    assert.doesNotMatch(ns1.out, /np2/);
    const all = await h.run(['get', 'policy', '-A']);
    assert.match(all.out.split('\n')[0]!, /^NAMESPACE\s+NAME/);
    assert.match(all.out, /ns1\s+np1/);
    assert.match(all.out, /ns2\s+np2/);
    assert.equal((await h.run(['get', 'netpol', '-A', '-n', 'x'])).code, 2);
  });

  test('-o yaml of one named object prints that object with resourceVersion; several print a List', async (t) => {
    const h = await seeded(t);
    const one = await h.run(['get', 'ippool', 'pool-a', '-o', 'yaml']);
    assert.equal(one.code, 0, one.err);
    assert.match(one.out, /^apiVersion: projectcalico\.org\/v3\nkind: IPPool\n/);
    assert.match(one.out, /resourceVersion: "\d+"/);
    const two = await h.run(['get', 'ippool', 'pool-a', 'pool-b', '-o', 'json']);
    const parsed = JSON.parse(two.out) as { kind: string; items: Resource[] };
    assert.equal(parsed.kind, 'IPPoolList');
    assert.deepEqual(
      parsed.items.map((i) => i.metadata.name),
      ['pool-a', 'pool-b'],
    );
  });

  test('-o name; ns/name; missing names exit 1 but found ones still print', async (t) => {
    const h = await seeded(t);
    const n = await h.run(['get', 'ippools', '-o', 'name']);
    assert.equal(n.out, 'ippool/pool-a\nippool/pool-b\n');
    const r = await h.run(['get', 'netpol', 'ns1/np1', 'ns1/nope', '-o', 'name']);
    assert.equal(r.code, 1);
    assert.equal(r.out, 'networkpolicy/np1\n');
    assert.match(r.err, /NetworkPolicy "ns1\/nope": resource does not exist/);
  });

  test('get -f reads back the objects a file names', async (t) => {
    const h = await seeded(t);
    const f = h.file('q.yaml', docs(POOL('pool-b', '1.1.1.1/32'), CALICO_NP('ns2', 'np2')));
    const r = await h.run(['get', '-f', f, '-o', 'json']);
    assert.equal(r.code, 0, r.err);
    const items = (JSON.parse(r.out) as { items: Resource[] }).items;
    assert.deepEqual(
      items.map((i) => i.metadata.name),
      ['pool-b', 'np2'],
    );
    assert.equal((items[0]!.spec as { cidr: string }).cidr, '10.1.0.0/16', 'the stored object, not the file');
  });

  test('-o yaml and -o json output applies back unchanged (List round trip)', async (t) => {
    const h = await seeded(t);
    for (const fmt of ['yaml', 'json']) {
      const got = await h.run(['get', 'netpol', '-A', '-o', fmt]);
      const before = await snapshot(h.store);
      const r = await h.run(['apply', '-f', h.file(`back.${fmt}`, got.out)]);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, "Successfully applied 2 'NetworkPolicy' resource(s) (2 unchanged)\n");
      assert.equal(await snapshot(h.store), before, 'a no-op: same objects, same revisions');
    }
  });

  test('unknown kind and bad -o are usage errors', async (t) => {
    const h = await seeded(t);
    const r = await h.run(['get', 'frobs']);
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown resource kind "frobs"/);
    assert.equal((await h.run(['get', 'ippool', '-o', 'xml'])).code, 2);
  });

  test('kubernetes NetworkPolicy is separate from Calico NetworkPolicy', async (t) => {
    const h = await seeded(t);
    const knp = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: deny
  namespace: ns1
spec:
  podSelector: {}
  policyTypes: [Ingress]
`;
    assert.equal((await h.run(['apply', '-f', h.file('k.yaml', knp)])).code, 0);
    const r = await h.run(['get', 'knp', '-n', 'ns1', '-o', 'name']);
    assert.equal(r.out, 'kubernetesnetworkpolicy/deny\n');
    const c = await h.run(['get', 'netpol', '-n', 'ns1', '-o', 'name']);
    assert.equal(c.out, 'networkpolicy/np1\n');
  });
});

describe('patch', () => {
  test('merge patch sets and removes fields (null removes)', async (t) => {
    const h = harness();
    t.after(() => h.cleanup());
    await h.run(['apply', '-f', h.file('a.yaml', POOL('a', '10.0.0.0/16'))]);
    await h.run(['label', 'ippool', 'a', 'x=1', 'y=2']);
    const r = await h.run([
      'patch',
      'ippool',
      'a',
      '-p',
      '{"spec":{"disabled":true},"metadata":{"labels":{"x":null}}}',
    ]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, "Successfully patched 1 'IPPool' resource\n");
    const a = await h.store.get({ info: IPPOOL, name: 'a' });
    assert.equal((a?.spec as { disabled?: boolean; cidr?: string }).disabled, true);
    assert.equal((a?.spec as { cidr?: string }).cidr, '10.0.0.0/16');
    assert.deepEqual(a?.metadata.labels, { y: '2' });
  });

  test('an invalid result is refused (exit 1) and nothing changes; identity cannot change (exit 2)', async (t) => {
    const h = harness();
    t.after(() => h.cleanup());
    await h.run(['apply', '-f', h.file('a.yaml', POOL('a', '10.0.0.0/16'))]);
    const before = await snapshot(h.store);
    const r = await h.run(['patch', 'ippool', 'a', '-p', '{"spec":{"cidr":"not-a-cidr"}}']);
    assert.equal(r.code, 1);
    assert.match(r.err, /spec\.cidr/);
    assert.equal((await h.run(['patch', 'ippool', 'a', '-p', '{"metadata":{"name":"b"}}'])).code, 2);
    assert.equal((await h.run(['patch', 'ippool', 'a', '-p', '[1,2]'])).code, 2);
    assert.equal(await snapshot(h.store), before);
    const missing = await h.run(['patch', 'ippool', 'zzz', '-p', '{}']);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /does not exist/);
  });
});

describe('label', () => {
  test('adds, refuses to change without --overwrite, changes with it, removes with key-', async (t) => {
    const h = harness();
    t.after(() => h.cleanup());
    await h.run(['apply', '-f', h.file('a.yaml', POOL('p', '10.0.0.0/16'))]);
    const add = await h.run(['label', 'ippool', 'p', 'env=prod', 'team=net']);
    assert.equal(add.code, 0, add.err);
    assert.equal(add.out, 'ippool/p labeled\n');
    const refused = await h.run(['label', 'ippool', 'p', 'env=dev']);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /"env" already has value "prod".*--overwrite/);
    assert.equal((await h.store.get({ info: IPPOOL, name: 'p' }))?.metadata.labels?.['env'], 'prod');
    const same = await h.run(['label', 'ippool', 'p', 'env=prod']);
    assert.equal(same.code, 0);
    assert.equal(same.out, 'ippool/p not labeled\n');
    assert.equal((await h.run(['label', 'ippool', 'p', 'env=dev', '--overwrite'])).code, 0);
    const rm = await h.run(['label', 'ippool', 'p', 'team-', 'ghost-']);
    assert.equal(rm.code, 0, rm.err);
    assert.match(rm.err, /label "ghost" not found/);
    assert.deepEqual((await h.store.get({ info: IPPOOL, name: 'p' }))?.metadata.labels, { env: 'dev' });
  });

  test('namespaced objects by ns/name or -n; namespaces themselves', async (t) => {
    const h = harness();
    t.after(() => h.cleanup());
    const pod = (ns: string, name: string) => `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  nodeName: node1
  containers:
    - name: c
      image: busybox
`;
    const r0 = await h.run(['apply', '-f', h.file('p.yaml', docs(pod('x', 'a'), pod('y', 'a'), NAMESPACE('x')))]);
    assert.equal(r0.code, 0, r0.err);
    assert.equal((await h.run(['label', 'pod', 'x/a', 'k=v'])).code, 0);
    assert.equal((await h.run(['label', 'pod', 'a', '-n', 'y', 'k=w'])).code, 0);
    assert.equal((await h.store.get({ info: POD, name: 'a', namespace: 'x' }))?.metadata.labels?.['k'], 'v');
    assert.equal((await h.store.get({ info: POD, name: 'a', namespace: 'y' }))?.metadata.labels?.['k'], 'w');
    const r = await h.run(['label', 'namespace', 'x', 'team=web']);
    assert.equal(r.out, 'namespace/x labeled\n');
    assert.equal((await h.store.get({ info: NS, name: 'x' }))?.metadata.labels?.['team'], 'web');
    assert.equal((await h.run(['label', 'pod', 'x/a', '-n', 'y', 'k=z'])).code, 2, 'ns/name disagrees with -n');
  });

  test('invalid keys and values are usage errors; missing object fails', async (t) => {
    const h = harness();
    t.after(() => h.cleanup());
    await h.run(['apply', '-f', h.file('a.yaml', POOL('p', '10.0.0.0/16'))]);
    assert.equal((await h.run(['label', 'ippool', 'p', 'bad key=v'])).code, 2);
    assert.equal((await h.run(['label', 'ippool', 'p', `k=${'v'.repeat(64)}`])).code, 2);
    assert.equal((await h.run(['label', 'ippool', 'p', 'noequals'])).code, 2);
    assert.equal((await h.run(['label', 'ippool', 'nope', 'k=v'])).code, 1);
  });

  test("retries on a CAS conflict and keeps the concurrent writer's change", async (t) => {
    const base = memoryCliStore();
    let injected = false;
    const racing = withUpdate(base, async (r) => {
      if (!injected) {
        injected = true;
        // Another writer labels the pool between our read and our write.
        const cur = (await base.get({ info: IPPOOL, name: 'p' }))!;
        await base.update({ ...cur, metadata: { ...cur.metadata, labels: { ...cur.metadata.labels, other: 'yes' } } });
      }
      return base.update(r);
    });
    const h = harness(racing);
    t.after(() => h.cleanup());
    await h.run(['apply', '-f', h.file('a.yaml', POOL('p', '10.0.0.0/16'))]);
    const r = await h.run(['label', 'ippool', 'p', 'mine=1']);
    assert.equal(r.code, 0, r.err);
    assert.ok(injected);
    assert.deepEqual((await base.get({ info: IPPOOL, name: 'p' }))?.metadata.labels, { other: 'yes', mine: '1' });
  });

  test('gives up after bounded retries when every write conflicts (exit 1)', async (t) => {
    const base = memoryCliStore();
    let updates = 0;
    const always = withUpdate(base, async () => {
      updates++;
      throw new TesseraError('conflict', 'revision mismatch');
    });
    const h = harness(always);
    t.after(() => h.cleanup());
    await h.run(['apply', '-f', h.file('a.yaml', POOL('p', '10.0.0.0/16'))]);
    const r = await h.run(['label', 'ippool', 'p', 'k=v']);
    assert.equal(r.code, 1);
    assert.match(r.err, /changed concurrently/);
    assert.ok(updates >= 2 && updates <= 10, `bounded: ${updates}`);
  });
});

describe('validate and version', () => {
  test('validate needs no datastore and reports problems with exit 1', async (t) => {
    const h = harness();
    t.after(() => h.cleanup());
    const io = await import('../src/cli/io.js');
    const { runCli } = await import('../src/cli/program.js');
    const run = async (args: string[]) => {
      const c = io.captureIO();
      const code = await runCli(args, {
        io: c,
        openStore: () => Promise.reject(new Error('validate must not open the datastore')),
        env: { TESSERA_CONFIG: '/nonexistent/config.json' },
      });
      return { code, out: c.stdout(), err: c.stderr() };
    };
    const ok = await run(['validate', '-f', h.file('ok.yaml', docs(POOL('a', '10.0.0.0/16'), CALICO_NP('n', 'p')))]);
    assert.equal(ok.code, 0, ok.err);
    assert.equal(ok.out, 'Successfully validated 2 resource(s)\n');
    const bad = await run(['validate', '-f', h.file('bad.yaml', POOL('a', '300.0.0.0/16'))]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /spec\.cidr/);
    const dup = await run([
      'validate',
      '-f',
      h.file('dup.yaml', docs(POOL('a', '10.0.0.0/16'), POOL('a', '10.1.0.0/16'))),
    ]);
    assert.equal(dup.code, 1, 'duplicate names in one batch');
    assert.equal(ok.err, '', 'nothing stored-only, no warning');
    // A field Calico's API has and Tessera stores without acting on is accepted with a warning.
    const felix = [
      'apiVersion: projectcalico.org/v3',
      'kind: FelixConfiguration',
      'metadata: {name: default}',
      'spec: {bpfEnabled: true, failsafeInboundHostPorts: []}',
    ].join('\n');
    const warned = await run(['validate', '-f', h.file('felix.yaml', felix)]);
    assert.equal(warned.code, 0, warned.err);
    assert.match(
      warned.err,
      /^Warning: .*felix\.yaml: FelixConfiguration "default": spec\.bpfEnabled is stored but has no effect in Tessera: .*nftables/m,
    );
    assert.doesNotMatch(warned.err, /failsafeInboundHostPorts/);
  });

  test('no datastore configured: exit 1 and says how to configure one', async (t) => {
    const { runCli } = await import('../src/cli/program.js');
    const { captureIO } = await import('../src/cli/io.js');
    const { openCliStore } = await import('../src/cli/open-store.js');
    const c = captureIO();
    const code = await runCli(['get', 'ippools'], {
      io: c,
      openStore: openCliStore,
      env: { TESSERA_CONFIG: '/nonexistent/tessera-config.json' },
    });
    t.diagnostic(c.stderr());
    assert.equal(code, 1);
    assert.match(c.stderr(), /no datastore configured.*--etcd-endpoints.*TESSERA_ETCD_ENDPOINTS/);
  });

  test('version prints the client version and the cluster state, exit 0 even when unreachable', async (t) => {
    const h = harness();
    t.after(() => h.cleanup());
    const r = await h.run(['version']);
    assert.equal(r.code, 0);
    assert.match(r.out, /^Client Version:\s+v\d+\.\d+\.\d+\n/);
    assert.match(r.out, /Cluster Version:\s+unknown/);
    // What the agents stamp at start-up (src/agent NodeRegistrar.stampClusterInformation).
    await h.store.create({
      apiVersion: 'projectcalico.org/v3',
      kind: 'ClusterInformation',
      metadata: { name: 'default' },
      spec: { clusterGUID: 'a'.repeat(32), clusterType: 'tessera,bgp', calicoVersion: 'v9.8.7', datastoreReady: true },
    });
    const stamped = await h.run(['version']);
    assert.match(stamped.out, /Cluster Version:\s+v9\.8\.7\n/);
    assert.match(stamped.out, /Cluster Type:\s+tessera,bgp\n/);
    assert.doesNotMatch(stamped.out, /no ClusterInformation/);
    const { runCli } = await import('../src/cli/program.js');
    const { captureIO } = await import('../src/cli/io.js');
    const c = captureIO();
    const code = await runCli(['version'], {
      io: c,
      openStore: () => Promise.reject(new TesseraError('unavailable', 'etcd down')),
      env: { TESSERA_ETCD_ENDPOINTS: 'http://127.0.0.1:1' },
    });
    assert.equal(code, 0);
    assert.match(c.stdout(), /Cluster Version:\s+unavailable \(etcd down\)/);
  });
});
