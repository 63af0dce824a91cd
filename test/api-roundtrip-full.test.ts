/**
 * Round trips of documents with every field Calico's API has (issue 18): each document in
 * src/api/testdata/valid/ (the files calico-rules.ts names as "Calico accepts") is applied, read
 * back with `get -o yaml`, and applied again. Every field it set must come back as written (stored,
 * not dropped), and applying what get printed must not move the datastore revision. Fields Tessera
 * stores but does not act on make `apply` say so. In memory, against the real CLI code.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { lookupKind, parseManifests, type Resource } from '../src/api/index.js';
import { resourceCliStore } from '../src/cli/open-store.js';
import { MemoryBackend, ResourceStore } from '../src/datastore/index.js';
import { harness } from './cli-helpers.js';

const VALID = join(import.meta.dirname, '..', 'src', 'api', 'testdata', 'valid');

function setup() {
  const backend = new MemoryBackend();
  const rs = new ResourceStore(backend);
  const h = harness(resourceCliStore(rs, backend));
  return { backend, rs, h };
}

/** Every leaf of `want` is in `got` with the same value (got may hold defaults besides). */
function assertContains(got: unknown, want: unknown, at: string): void {
  if (want !== null && typeof want === 'object' && !Array.isArray(want)) {
    assert.ok(got !== null && typeof got === 'object' && !Array.isArray(got), `${at}: not an object in get's output`);
    for (const [k, v] of Object.entries(want)) assertContains((got as Record<string, unknown>)[k], v, `${at}.${k}`);
    return;
  }
  if (Array.isArray(want)) {
    assert.ok(Array.isArray(got) && got.length === want.length, `${at}: list changed: ${JSON.stringify(got)}`);
    want.forEach((v, i) => assertContains(got[i], v, `${at}[${i}]`));
    return;
  }
  assert.deepEqual(got, want, `${at}: stored ${JSON.stringify(got)}, applied ${JSON.stringify(want)}`);
}

function nameOf(r: Resource): { plural: string; name: string } {
  const info = lookupKind(r.kind)!;
  const name = info.namespaced ? `${r.metadata.namespace ?? 'default'}/${r.metadata.name}` : r.metadata.name;
  return { plural: info.plural, name };
}

describe('round trip of every field Calico has', () => {
  const files = readdirSync(VALID)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
  for (const file of files) {
    test(`${file}: every field is stored, and get -o yaml applies back as a no-op`, async () => {
      const { backend, h } = setup();
      try {
        const path = join(VALID, file);
        const docs = parseManifests(readFileSync(path, 'utf8'), file);
        const first = await h.run(['apply', '-f', path]);
        assert.equal(first.code, 0, first.err);
        for (const r of docs) {
          const { plural, name } = nameOf(r);
          const got = await h.run(['get', plural, name, '-o', 'yaml']);
          assert.equal(got.code, 0, `${r.kind} ${name}: ${got.err}`);
          const read = parse(got.out) as Resource & { spec?: unknown };
          assertContains(read.spec, (r as Resource & { spec?: unknown }).spec, `${r.kind} ${name} spec`);
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
      } finally {
        await h.cleanup();
      }
    });
  }

  test('apply warns about the KubeControllersConfiguration, Felix and CalicoNodeStatus fields Tessera stores but does not act on', async () => {
    const { h } = setup();
    try {
      const kcc = await h.run(['apply', '-f', join(VALID, 'kcc-every-field.yaml')]);
      assert.equal(kcc.code, 0, kcc.err);
      for (const f of [
        'spec.controllers.policyMigration',
        'spec.logSeverityScreen',
        'spec.etcdV3CompactionPeriod',
        'spec.controllers.node.hostEndpoint.templates',
      ]) {
        assert.ok(kcc.err.includes(f), `no warning for ${f}:\n${kcc.err}`);
      }
      assert.ok(!kcc.err.includes('spec.controllers.node.reconcilerPeriod'), 'reconcilerPeriod is acted on');
      const felix = await h.run(['apply', '-f', join(VALID, 'felix-enums-calico-accepts.yaml')]);
      assert.equal(felix.code, 0, felix.err);
      for (const f of ['spec.bpfConntrackMode', 'spec.iptablesBackend', 'spec.windowsManageFirewallRules']) {
        assert.ok(felix.err.includes(f), `no warning for ${f}:\n${felix.err}`);
      }
      assert.ok(!felix.err.includes('spec.failsafeInboundHostPorts'), 'failsafe ports are acted on');
      const cns = await h.run(['apply', '-f', join(VALID, 'ipam-and-status-calico-accepts.yaml')]);
      assert.equal(cns.code, 0, cns.err);
      for (const f of ['spec.classes', 'spec.updatePeriodSeconds']) {
        assert.ok(cns.err.includes(f), `no warning for CalicoNodeStatus ${f}:\n${cns.err}`);
      }
      assert.ok(!cns.err.includes('reservedCIDRs'), 'IPAM honours IPReservations');
      assert.ok(!cns.err.includes('labelsToApply'), 'profiles apply their labels');
    } finally {
      await h.cleanup();
    }
  });

  test('a CalicoNodeStatus with the status the agent wrote: get|apply is a no-op, patch and label work, a user edit of status is ignored', async () => {
    const { rs, h } = setup();
    try {
      const info = lookupKind('CalicoNodeStatus')!;
      await rs.create({
        apiVersion: 'projectcalico.org/v3',
        kind: 'CalicoNodeStatus',
        metadata: { name: 'node-1-status' },
        spec: { node: 'node-1', classes: ['Agent', 'BGP'], updatePeriodSeconds: 10 },
      } as Resource);
      const status = {
        lastUpdated: '2026-12-08T02:00:00Z',
        agent: { birdV4: { state: 'Ready', version: 'v2.0.12', routerID: '10.0.0.1' } },
        bgp: { numberEstablishedV4: 1, numberNotEstablishedV4: 0, numberEstablishedV6: 0, numberNotEstablishedV6: 0 },
      };
      const cur = (await rs.get(info, 'node-1-status'))!;
      await rs.update({ ...cur, status } as Resource);
      const yaml = (await h.run(['get', 'caliconodestatus', 'node-1-status', '-o', 'yaml'])).out;
      assert.match(yaml, /numberEstablishedV4: 1/);
      const rv = (await rs.get(info, 'node-1-status'))!.metadata.resourceVersion;
      const back = await h.run(['apply', '-f', h.file('cns.yaml', yaml)]);
      assert.equal(back.code, 0, back.err);
      assert.equal((await rs.get(info, 'node-1-status'))!.metadata.resourceVersion, rv, 'no-op');
      const edited = yaml
        .replace(/\n\s*resourceVersion: .*/, '')
        .replace('numberEstablishedV4: 1', 'numberEstablishedV4: 7');
      const ed = await h.run(['apply', '-f', h.file('cns2.yaml', edited)]);
      assert.equal(ed.code, 0, ed.err);
      const p = await h.run([
        'patch',
        'caliconodestatus',
        'node-1-status',
        '-p',
        '{"spec":{"updatePeriodSeconds":30}}',
      ]);
      assert.equal(p.code, 0, p.err);
      const l = await h.run(['label', 'caliconodestatus', 'node-1-status', 'watched=true']);
      assert.equal(l.code, 0, l.err);
      const final = (await rs.get(info, 'node-1-status')) as Resource & {
        status?: unknown;
        spec: { updatePeriodSeconds: number };
      };
      assert.equal(final.spec.updatePeriodSeconds, 30);
      assert.equal(final.metadata.labels?.['watched'], 'true');
      assert.deepEqual(final.status, status, 'status kept as the agent wrote it');
    } finally {
      await h.cleanup();
    }
  });
});
