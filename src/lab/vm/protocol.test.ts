import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeFrames, encodeFrame } from './protocol.js';
import { parseMemory, qemuArgv } from './runner.js';

test('frames survive any chunking', () => {
  const text =
    encodeFrame({ fd: 1, data: Buffer.from('hello\n').toString('base64') }) +
    encodeFrame({ fd: 2, data: 'eA==' }) +
    encodeFrame({ exit: 3 });
  for (let cut = 0; cut <= text.length; cut++) {
    const a = decodeFrames(text.slice(0, cut));
    const b = decodeFrames(a.rest + text.slice(cut));
    assert.deepEqual([...a.frames, ...b.frames], [{ fd: 1, data: 'aGVsbG8K' }, { fd: 2, data: 'eA==' }, { exit: 3 }]);
    assert.equal(b.rest, '');
  }
});

test('--memory accepts G/M suffixes and MiB, rejects the rest naming the value', () => {
  assert.equal(parseMemory(undefined), 2048);
  assert.equal(parseMemory('2G'), 2048);
  assert.equal(parseMemory('1536M'), 1536);
  assert.equal(parseMemory('3072'), 3072);
  for (const bad of ['2T', 'lots', '100M', '64G'])
    assert.throws(
      () => parseMemory(bad),
      (e: Error) => e.message.includes(`"${bad}"`),
    );
});

test('QEMU forwards only loopback ports of the host and names the lab dir in its argv', () => {
  const argv = qemuArgv(
    {
      kind: 'vm',
      name: 'l',
      memoryMb: 1024,
      kernelDir: '/k',
      controlPort: 4000,
      etcdPort: 4001,
      console: '/run/tessera/labs/l/console.log',
      tokenFile: '/run/tessera/labs/l/token',
    },
    2,
  );
  const net = argv[argv.indexOf('-netdev') + 1]!;
  assert.match(net, /hostfwd=tcp:127\.0\.0\.1:4000-:7070/);
  assert.match(net, /hostfwd=tcp:127\.0\.0\.1:4001-:12379/);
  assert.ok(argv.join(' ').includes('/run/tessera/labs/l/'));
});
