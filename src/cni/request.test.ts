import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCniArgs, parseRequest } from './request.js';
import { cniCodeOf } from './errors.js';

const conf = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    cniVersion: '1.0.0',
    name: 'tessera',
    type: 'tessera-cni',
    ipam: { type: 'tessera-ipam' },
    ...extra,
  });
const env = (extra: Record<string, string | undefined> = {}) => ({
  CNI_COMMAND: 'ADD',
  CNI_CONTAINERID: 'c1',
  CNI_NETNS: '/var/run/netns/x',
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/opt/cni/bin',
  ...extra,
});
const codeOf = (fn: () => unknown): number => {
  try {
    fn();
  } catch (e) {
    return cniCodeOf(e);
  }
  return 0;
};

test('parses a valid ADD with CNI_ARGS', () => {
  const r = parseRequest(env({ CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=p-1' }), conf());
  assert.equal(r.command, 'ADD');
  assert.equal(r.containerId, 'c1');
  assert.equal(r.args['K8S_POD_NAME'], 'p-1');
  assert.equal(r.conf.name, 'tessera');
});

test('spec error codes for bad input', () => {
  assert.equal(
    codeOf(() => parseRequest(env({ CNI_NETNS: undefined }), conf())),
    4,
  );
  assert.equal(
    codeOf(() => parseRequest(env({ CNI_CONTAINERID: '' }), conf())),
    4,
  );
  assert.equal(
    codeOf(() => parseRequest(env({ CNI_COMMAND: 'FROB' }), conf())),
    4,
  );
  assert.equal(
    codeOf(() => parseRequest(env(), '{"cniVersion": "1.0.0", ')),
    6,
  );
  assert.equal(
    codeOf(() => parseRequest(env(), '[1]')),
    6,
  );
  assert.equal(
    codeOf(() => parseRequest(env(), conf({ cniVersion: '9.9.9' }))),
    1,
  );
  assert.equal(
    codeOf(() => parseRequest(env(), conf({ ipam: undefined }))),
    7,
  );
  assert.equal(
    codeOf(() => parseRequest(env(), conf({ ipam: {} }))),
    7,
  );
  assert.equal(
    codeOf(() => parseRequest(env(), conf({ name: '' }))),
    7,
  );
  assert.equal(
    codeOf(() => parseRequest(env(), conf({ mtu: 'big' }))),
    7,
  );
  assert.equal(
    codeOf(() => parseRequest(env({ CNI_COMMAND: 'CHECK' }), conf({ cniVersion: '0.3.1' }))),
    1,
  );
});

test('DEL tolerates a missing netns; VERSION needs no config fields', () => {
  assert.equal(parseRequest(env({ CNI_COMMAND: 'DEL', CNI_NETNS: undefined }), conf()).netns, '');
  assert.equal(parseRequest({ CNI_COMMAND: 'VERSION' }, '{"cniVersion":"0.4.0"}').conf.cniVersion, '0.4.0');
  assert.equal(parseRequest({ CNI_COMMAND: 'VERSION' }, '').command, 'VERSION');
});

test('CNI_ARGS parsing', () => {
  assert.deepEqual(parseCniArgs('A=1;B=x=y;'), { A: '1', B: 'x=y' });
  assert.equal(
    codeOf(() => parseCniArgs('novalue')),
    4,
  );
});
