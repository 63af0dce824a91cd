import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRequest, encodeRequest } from './server.js';

test('request framing round-trips and forwards only CNI_* variables', () => {
  const buf = encodeRequest({ CNI_COMMAND: 'ADD', CNI_ARGS: 'A=1;B=2', HOME: '/root' }, '{"x":"\u00e9"}');
  const back = decodeRequest(buf);
  assert.deepEqual(back.env, { CNI_COMMAND: 'ADD', CNI_ARGS: 'A=1;B=2' });
  assert.equal(back.stdin, '{"x":"\u00e9"}');
  assert.throws(() => decodeRequest(Buffer.from('CNI_COMMAND=ADD')), /not terminated/);
});
