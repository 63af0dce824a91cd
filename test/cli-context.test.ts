/** src/lib/context.ts: the CLI config file and datastore resolution precedence. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCliConfig, removeContext, resolveDatastore, setContext, useContext } from '../src/lib/context.js';
import { isTesseraError } from '../src/lib/errors.js';

function tempEnv(t: { after(fn: () => void): void }): NodeJS.ProcessEnv {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-ctx-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { TESSERA_CONFIG: join(dir, 'sub', 'config.json'), HOME: dir };
}

test('setContext creates the file, makeCurrent selects it, removeContext clears current', (t) => {
  const env = tempEnv(t);
  assert.deepEqual(readCliConfig(env), { contexts: {} });
  setContext('lab1', { etcdEndpoints: ['http://10.0.0.1:2379'], lab: 'lab1' }, { makeCurrent: true, env });
  setContext('lab2', { etcdEndpoints: ['http://10.0.0.2:2379'], caFile: '/ca.pem' }, { env });
  const cfg = readCliConfig(env);
  assert.equal(cfg.currentContext, 'lab1');
  assert.deepEqual(Object.keys(cfg.contexts).sort(), ['lab1', 'lab2']);
  assert.deepEqual(resolveDatastore({ env }), { endpoints: ['http://10.0.0.1:2379'], source: 'context "lab1"' });
  useContext('lab2', { env });
  assert.deepEqual(resolveDatastore({ env }).tls, { caFile: '/ca.pem' });
  assert.throws(
    () => useContext('nope', { env }),
    (e) => isTesseraError(e, 'not-found') && /"lab1", "lab2"/.test(e.message),
  );
  removeContext('lab2', { env });
  assert.equal(readCliConfig(env).currentContext, undefined);
  assert.deepEqual(Object.keys(readCliConfig(env).contexts), ['lab1']);
  removeContext('lab2', { env }); // idempotent
  JSON.parse(readFileSync(env['TESSERA_CONFIG']!, 'utf8'));
});

test('precedence: flag, then env, then --config, then context', (t) => {
  const env = tempEnv(t);
  setContext('c', { etcdEndpoints: ['http://ctx:2379'] }, { makeCurrent: true, env });
  const cfgFile = join(env['HOME']!, 'ds.yaml');
  writeFileSync(cfgFile, 'etcdEndpoints: http://file:2379, http://file2:2379\ncertFile: /c.pem\nkeyFile: /k.pem\n');
  const withEnv = { ...env, TESSERA_ETCD_ENDPOINTS: 'http://env:2379' };
  assert.deepEqual(
    resolveDatastore({ etcdEndpoints: 'http://a:1, http://b:2', config: cfgFile, env: withEnv }).endpoints,
    ['http://a:1', 'http://b:2'],
  );
  assert.deepEqual(resolveDatastore({ config: cfgFile, env: withEnv }).endpoints, ['http://env:2379']);
  const fromFile = resolveDatastore({ config: cfgFile, env });
  assert.deepEqual(fromFile.endpoints, ['http://file:2379', 'http://file2:2379']);
  assert.deepEqual(fromFile.tls, { certFile: '/c.pem', keyFile: '/k.pem' });
  assert.deepEqual(resolveDatastore({ env }).endpoints, ['http://ctx:2379']);
  assert.throws(
    () => resolveDatastore({ etcdEndpoints: ' , ', env }),
    (e) => isTesseraError(e, 'usage'),
  );
});

test('calicoctl CalicoAPIConfig files are accepted', (t) => {
  const env = tempEnv(t);
  const f = join(env['HOME']!, 'calicoctl.cfg');
  writeFileSync(
    f,
    `apiVersion: projectcalico.org/v3
kind: CalicoAPIConfig
metadata: {}
spec:
  datastoreType: etcdv3
  etcdEndpoints: https://e1:2379,https://e2:2379
  etcdCACertFile: /etc/ca.pem
`,
  );
  assert.deepEqual(resolveDatastore({ config: f, env }), {
    endpoints: ['https://e1:2379', 'https://e2:2379'],
    tls: { caFile: '/etc/ca.pem' },
    source: `--config "${f}"`,
  });
});

test('nothing configured: an unavailable error saying how to configure', (t) => {
  const env = tempEnv(t);
  assert.throws(
    () => resolveDatastore({ env }),
    (e) =>
      isTesseraError(e, 'unavailable') &&
      /--etcd-endpoints/.test(e.message) &&
      /TESSERA_ETCD_ENDPOINTS/.test(e.message),
  );
  writeFileSync(env['TESSERA_CONFIG']!.replace('/sub/config.json', '/bad.json'), '{not json');
  assert.throws(
    () => readCliConfig({ ...env, TESSERA_CONFIG: env['TESSERA_CONFIG']!.replace('/sub/config.json', '/bad.json') }),
    (e) => isTesseraError(e, 'validation'),
  );
});
