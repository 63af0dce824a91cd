/**
 * tessera-ipam as the IPAM of Debian's reference `ptp` plugin: pods get working addresses from
 * Tessera's block IPAM, reach each other, and DEL gives the addresses back.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { CniLab, ROOT, cniEnv, nodeEntry } from './cni-harness.js';
import { run } from '../src/lib/exec.js';

const lab = new CniLab();
let host = '';
let binDir = '';

before(async () => {
  await lab.start([{ name: 'ptp-pool', cidr: '10.66.0.0/16' }]);
  host = await lab.addNetns('host');
  binDir = `/run/${lab.prefix}cnibin`;
  await mkdir(binDir, { recursive: true });
  await symlink('/usr/lib/cni/ptp', `${binDir}/ptp`);
  const argv = nodeEntry('ipam-main')
    .map((a) => `'${a}'`)
    .join(' ');
  await writeFile(`${binDir}/tessera-ipam`, `#!/bin/sh\ncd '${ROOT}' && exec ${argv}\n`);
  await chmod(`${binDir}/tessera-ipam`, 0o755);
});
after(async () => {
  await lab.cleanup();
  if (binDir) await rm(binDir, { recursive: true, force: true });
});

test('ptp + tessera-ipam: addresses from the pool, pods ping each other, DEL releases', async () => {
  const conf = {
    cniVersion: '1.0.0',
    name: 'tessera-ptp',
    type: 'ptp',
    nodename: 'ptp-node',
    etcd_endpoints: lab.etcdUnix,
    ipam: { type: 'tessera-ipam', ipv4_pools: ['ptp-pool'] },
  };
  const pods = [await lab.addNetns('pa'), await lab.addNetns('pb')];
  const ips: string[] = [];
  for (const [i, ns] of pods.entries()) {
    const r = await lab.invoke([`${binDir}/ptp`], host, { ...cniEnv('ADD', `ptp-${i}`, ns), CNI_PATH: binDir }, conf);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const ip = (r.json?.['ips'] as { address: string; gateway: string }[])[0]!;
    assert.match(ip.address, /^10\.66\.\d+\.\d+\/26$/, 'block-sized prefix from tessera-ipam');
    assert.match(ip.gateway, /^10\.66\.\d+\.(0|64|128|192)$/, "gateway is the block's first address");
    assert.notEqual(ip.address.split('/')[0], ip.gateway);
    ips.push(ip.address.split('/')[0]!);
  }
  assert.notEqual(ips[0], ips[1]);
  assert.ok(
    (await lab.ipam.ipsByHandle('tessera-ptp.ptp-0')).some((i) => i.address === ips[0]),
    'held by the handle',
  );
  for (const [from, to] of [
    [0, 1],
    [1, 0],
  ] as const) {
    const p = await run(['ip', 'netns', 'exec', pods[from]!, 'ping', '-c1', '-W2', ips[to]!], { check: false });
    assert.equal(p.code, 0, `pod ${from} reaches ${ips[to]}: ${p.stdout}`);
  }
  for (const [i, ns] of pods.entries()) {
    const r = await lab.invoke([`${binDir}/ptp`], host, { ...cniEnv('DEL', `ptp-${i}`, ns), CNI_PATH: binDir }, conf);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(await lab.ipam.ipsByHandle(`tessera-ptp.ptp-${i}`), []);
  }
});
