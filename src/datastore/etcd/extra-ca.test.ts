import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { defaultRootsWithExtra } from './extra-ca.js';

test('the moved-aside NODE_EXTRA_CA_CERTS is added to the default roots; absent or unreadable: Node defaults', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-extra-ca-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const pem = '-----BEGIN CERTIFICATE-----\nTESSERA-TEST\n-----END CERTIFICATE-----\n';
  writeFileSync(join(dir, 'ca.pem'), pem);
  const roots = defaultRootsWithExtra({ TESSERA_EXTRA_CA_CERTS: join(dir, 'ca.pem') })?.toString('utf8');
  assert.ok(roots?.includes('TESSERA-TEST'), 'the extra CA is trusted');
  assert.ok(roots?.includes(rootCertificates[0]!), "and so are Node's own roots");
  assert.equal(defaultRootsWithExtra({}), undefined);
  assert.equal(defaultRootsWithExtra({ TESSERA_EXTRA_CA_CERTS: join(dir, 'missing.pem') }), undefined);
});
