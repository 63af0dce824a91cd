/**
 * etcd over TLS with client certificates, as production clusters run it: certificates made with
 * openssl, etcd started with --client-cert-auth, then the datastore backend (what the agent uses:
 * writes, reads, a watch) and the `tessera` CLI through a calicoctl-style config file. Missing or
 * untrusted certificates give a clear error, not a hang.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEtcd, type EtcdHandle, type EtcdTlsFiles } from '../src/lab/etcd.js';
import { openBackend } from '../src/datastore/open-backend.js';
import { run } from '../src/lib/exec.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');

async function openssl(dir: string, args: string[]): Promise<void> {
  await run(['openssl', ...args], { cwd: dir });
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA. */
async function makePki(
  dir: string,
  prefix: string,
): Promise<{ ca: string; server: EtcdTlsFiles; client: EtcdTlsFiles }> {
  const p = (n: string) => join(dir, `${prefix}-${n}`);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(dir, [
    'req',
    '-x509',
    ...ec,
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.pem'),
    '-days',
    '1',
    '-subj',
    `/CN=${prefix}-ca`,
  ]);
  for (const [name, ext] of [
    ['server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n'],
    ['client', 'extendedKeyUsage=clientAuth\n'],
  ] as const) {
    writeFileSync(p(`${name}.ext`), ext);
    await openssl(dir, [
      'req',
      ...ec,
      '-keyout',
      p(`${name}.key`),
      '-out',
      p(`${name}.csr`),
      '-subj',
      `/CN=tessera-${name}`,
    ]);
    await openssl(dir, [
      'x509',
      '-req',
      '-in',
      p(`${name}.csr`),
      '-CA',
      p('ca.pem'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-out',
      p(`${name}.pem`),
      '-days',
      '1',
      '-extfile',
      p(`${name}.ext`),
    ]);
  }
  const files = (n: string): EtcdTlsFiles => ({ caFile: p('ca.pem'), certFile: p(`${n}.pem`), keyFile: p(`${n}.key`) });
  return { ca: p('ca.pem'), server: files('server'), client: files('client') };
}

describe('etcd with TLS client-certificate auth', () => {
  let dir: string;
  let etcd: EtcdHandle;
  let client: EtcdTlsFiles;
  let stranger: EtcdTlsFiles;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-etcd-tls-'));
    const pki = await makePki(dir, 'cluster');
    client = pki.client;
    stranger = (await makePki(dir, 'other')).client;
    etcd = await startEtcd({ name: 'tessera-tls-test', tls: pki.server });
  });
  after(async () => {
    await etcd?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the endpoints are https', () => {
    assert.ok(
      etcd.endpoints.every((e) => e.startsWith('https://127.0.0.1:')),
      etcd.endpoints.join(','),
    );
  });

  test('the backend writes, reads and watches with a client certificate', async () => {
    const b = openBackend({ endpoints: etcd.endpoints, tls: client });
    const stop = new AbortController();
    try {
      const from = (await b.list('/tls-test/')).revision + 1;
      const watch = b.watch('/tls-test/', { fromRevision: from, signal: stop.signal })[Symbol.asyncIterator]();
      const created = await b.create('/tls-test/a', '{"x":1}');
      assert.equal((await b.get('/tls-test/a'))?.value, '{"x":1}');
      const batch = await watch.next();
      assert.equal(batch.done, false);
      const ev = (batch.value as { type: string; kv?: { key: string; revision: number } }[])[0];
      assert.deepEqual([ev?.type, ev?.kv?.key, ev?.kv?.revision], ['put', '/tls-test/a', created.revision]);
    } finally {
      stop.abort();
      await b.close();
    }
  });

  const tessera = (args: string[]) =>
    run(['node', '--import', 'tsx', MAIN, ...args], {
      cwd: ROOT,
      env: { PATH: process.env['PATH'], HOME: dir, TESSERA_CONFIG: join(dir, 'cli.json') },
      check: false,
      timeoutMs: 60_000,
    });

  test('the CLI through a calicoctl-style config file (CalicoAPIConfig)', async () => {
    const cfg = join(dir, 'calicoctl.cfg');
    writeFileSync(
      cfg,
      [
        'apiVersion: projectcalico.org/v3',
        'kind: CalicoAPIConfig',
        'metadata: {}',
        'spec:',
        '  datastoreType: etcdv3',
        `  etcdEndpoints: ${etcd.endpoints.join(',')}`,
        `  etcdCACertFile: ${client.caFile}`,
        `  etcdCertFile: ${client.certFile}`,
        `  etcdKeyFile: ${client.keyFile}`,
        '',
      ].join('\n'),
    );
    const pool = join(dir, 'pool.yaml');
    writeFileSync(
      pool,
      'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: tls-pool\nspec:\n  cidr: 10.77.0.0/16\n',
    );
    const a = await tessera(['--config', cfg, 'apply', '-f', pool]);
    assert.equal(a.code, 0, a.stderr);
    const g = await tessera(['--config', cfg, 'get', 'ippool', 'tls-pool', '-o', 'json']);
    assert.equal(g.code, 0, g.stderr);
    assert.equal((JSON.parse(g.stdout) as { spec: { cidr: string } }).spec.cidr, '10.77.0.0/16');
  });

  test('no client certificate, or one from another CA: exit 1 with a clear error, nothing written', async () => {
    const pool = join(dir, 'pool2.yaml');
    writeFileSync(
      pool,
      'apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: tls-pool-2\nspec:\n  cidr: 10.78.0.0/16\n',
    );
    for (const [label, cfg] of [
      ['CA only', { etcdEndpoints: etcd.endpoints, caFile: client.caFile }],
      [
        'untrusted client certificate',
        {
          etcdEndpoints: etcd.endpoints,
          caFile: client.caFile,
          certFile: stranger.certFile,
          keyFile: stranger.keyFile,
        },
      ],
    ] as const) {
      const file = join(dir, `bad-${label.replace(/\W+/g, '-')}.json`);
      writeFileSync(file, JSON.stringify(cfg));
      const t0 = performance.now();
      const r = await tessera(['--config', file, 'apply', '-f', pool]);
      assert.equal(r.code, 1, `${label}: ${r.stdout}${r.stderr}`);
      assert.match(
        r.stderr,
        /^error: cannot reach the datastore at "https:\/\/127\.0\.0\.1:\d+" \(from --config /,
        `${label}: ${r.stderr}`,
      );
      assert.match(
        r.stderr,
        /etcd rejected the TLS handshake: it wants a client certificate signed by a CA it trusts/,
        `${label}: ${r.stderr}`,
      );
      assert.doesNotMatch(
        r.stderr,
        /Resolution note|deps\/openssl|DEP0123|DeprecationWarning/,
        `${label}: said once, no noise: ${r.stderr}`,
      );
      assert.doesNotMatch(r.stderr, /^\s+at /m, `${label}: no stack trace`);
      assert.ok(performance.now() - t0 < 50_000, `${label}: fails instead of hanging`);
    }
    // A CA that did not sign etcd's certificate: the server cannot be verified.
    const wrongCa = join(dir, 'bad-wrong-ca.json');
    writeFileSync(
      wrongCa,
      JSON.stringify({
        etcdEndpoints: etcd.endpoints,
        caFile: stranger.caFile,
        certFile: client.certFile,
        keyFile: client.keyFile,
      }),
    );
    const v = await tessera(['--config', wrongCa, 'apply', '-f', pool]);
    assert.equal(v.code, 1, v.stdout);
    assert.match(v.stderr, /cannot verify etcd's server certificate: set caFile/, v.stderr);
    // Plain http to a TLS listener.
    const plain = join(dir, 'bad-plain.json');
    writeFileSync(
      plain,
      JSON.stringify({ etcdEndpoints: etcd.endpoints.map((e) => e.replace('https://', 'http://')) }),
    );
    const h = await tessera(['--config', plain, 'apply', '-f', pool]);
    assert.equal(h.code, 1, h.stdout);
    assert.match(h.stderr, /cannot reach the datastore at "http:\/\/127\.0\.0\.1:\d+"/, h.stderr);
    assert.match(h.stderr, /"http:\/\/127\.0\.0\.1:\d+" serves TLS: use https:\/\/ and set caFile/, h.stderr);

    const b = openBackend({ endpoints: etcd.endpoints, tls: client });
    try {
      const listed = await b.list('/');
      assert.ok(!listed.items.some((kv) => kv.key.includes('tls-pool-2')), 'nothing was written');
    } finally {
      await b.close();
    }
  });
});
