import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { applySysctls, nodeSysctls } from './sysctls.js';

test('forwarding always for IPv4, for IPv6 only with an IPv6 node address; be_liberal unless turned off', () => {
  assert.deepEqual(nodeSysctls({ ipv6: false, conntrackTcpBeLiberal: true }), [
    ['net/ipv4/ip_forward', '1'],
    ['net/netfilter/nf_conntrack_tcp_be_liberal', '1'],
  ]);
  assert.deepEqual(nodeSysctls({ ipv6: true, conntrackTcpBeLiberal: false }), [
    ['net/ipv4/ip_forward', '1'],
    ['net/ipv6/conf/all/forwarding', '1'],
  ]);
});

test('writes only what differs, and reports a setting the kernel does not have', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tessera-sysctl-'));
  try {
    const put = (p: string, v: string) => {
      mkdirSync(dirname(join(root, p)), { recursive: true });
      writeFileSync(join(root, p), `${v}\n`);
    };
    put('net/ipv4/ip_forward', '1');
    put('net/ipv6/conf/all/forwarding', '0');
    const list = nodeSysctls({ ipv6: true, conntrackTcpBeLiberal: true });
    const r = await applySysctls(list, root);
    assert.deepEqual(r.changed, ['net.ipv6.conf.all.forwarding=1']);
    assert.deepEqual(r.problems, [
      'cannot set net.netfilter.nf_conntrack_tcp_be_liberal=1: no such setting in this kernel',
    ]);
    assert.equal(readFileSync(join(root, 'net/ipv6/conf/all/forwarding'), 'utf8'), '1');
    assert.deepEqual(
      await applySysctls(list.slice(0, 2), root),
      { changed: [], problems: [] },
      'nothing left to change',
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
