import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeEtcdFailure } from './errors.js';

// As grpc-js reports a client certificate that etcd refused (captured from test/etcd-tls.test.ts).
const REFUSED =
  '14 UNAVAILABLE: No connection established. Last error: 800C83CF677F0000:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 42\n' +
  ' (2026-11-27T03:22:02.631Z). Resolution note: : 14 UNAVAILABLE: No connection established. Last error: 800C83CF677F0000:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number 42\n' +
  ' (2026-11-27T03:22:02.631Z). Resolution note: \n';

test('a refused client certificate: one statement, no OpenSSL noise, and what to configure', () => {
  const d = describeEtcdFailure(REFUSED);
  assert.equal(d.split('UNAVAILABLE').length, 2, `said once: ${d}`);
  assert.doesNotMatch(d, /Resolution note|deps\/openssl|800C83CF/);
  assert.match(
    d,
    /^14 UNAVAILABLE: No connection established\. Last error: sslv3 alert bad certificate; etcd rejected the TLS handshake/,
  );
  assert.match(d, /certFile and keyFile/);
});

test('an unverifiable server certificate and an http/https mix-up get their own hints', () => {
  assert.match(
    describeEtcdFailure(
      '14 UNAVAILABLE: No connection established. Last error: unable to get local issuer certificate',
    ),
    /set caFile/,
  );
  assert.match(
    describeEtcdFailure('14 UNAVAILABLE: ... SSL routines:ssl3_get_record:wrong version number'),
    /http:\/\/ versus https:\/\//,
  );
});

test('other messages pass through unchanged', () => {
  assert.equal(
    describeEtcdFailure('etcdserver: mvcc: required revision has been compacted'),
    'etcdserver: mvcc: required revision has been compacted',
  );
});

test('a deadline says which datastore did not answer and for how long, not grpc-js internals', () => {
  const raw =
    '4 DEADLINE_EXCEEDED: Deadline exceeded after 9.997s,name resolution: 0.032s,metadata filters: 0.002s,Waiting for LB pick';
  assert.equal(
    describeEtcdFailure(raw, ['http://10.240.0.1:2379']),
    'cannot reach the datastore at http://10.240.0.1:2379: no answer in 10 s',
  );
  assert.equal(describeEtcdFailure(raw), 'cannot reach the datastore: no answer in 10 s');
});
