/**
 * podman (CNI network backend) as a real CNI client of tessera-cni: a container on a Tessera
 * network gets its address and reaches a second container. podman runs inside a node netns
 * (nsenter --net, so /sys/fs/cgroup stays visible to runc) with its own config, storage and
 * conflist; nothing of the root namespace's network is touched.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile, copyFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CniLab, ensureShim } from './cni-harness.js';
import { run } from '../src/lib/exec.js';

const lab = new CniLab();
let dir = '';
let host = '';
let env: NodeJS.ProcessEnv = {};
const IMAGE = 'localhost/tessera-busybox:test';

async function podman(args: string[], check = true) {
  return run(['nsenter', `--net=/var/run/netns/${host}`, 'podman', ...args], { env, check, timeoutMs: 120_000 });
}

before(async () => {
  if ((await run(['sh', '-c', 'command -v podman && command -v runc'], { check: false })).code !== 0) {
    await run(['apt-get', 'install', '-y', '-q', '--no-install-recommends', 'podman', 'runc'], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
  await lab.start([{ name: 'podman-pool', cidr: '10.44.0.0/16' }]);
  host = await lab.addNetns('host');
  dir = await mkdtemp(join(tmpdir(), 'tsr-podman-'));
  const shim = await ensureShim();
  const server = await lab.startServer(host, 'podnode');
  const bin = join(dir, 'cni-bin');
  const netDir = join(dir, 'net.d');
  await mkdir(bin);
  await mkdir(netDir);
  await copyFile(shim, join(bin, 'tessera-cni'));
  await chmod(join(bin, 'tessera-cni'), 0o755);
  await symlink('/usr/lib/cni/loopback', join(bin, 'loopback'));
  await writeFile(
    join(netDir, 'tessera-test.conflist'),
    JSON.stringify({
      cniVersion: '1.0.0',
      name: 'tessera-test',
      plugins: [
        {
          type: 'tessera-cni',
          nodename: 'podnode',
          etcd_endpoints: lab.etcdUnix,
          mtu: 1500,
          agent_socket: server.socket,
          ipam: { type: 'tessera-ipam' },
        },
      ],
    }),
  );
  await writeFile(
    join(dir, 'containers.conf'),
    [
      '[containers]',
      'default_ulimits=["nofile=1024:1024","nproc=1024:1024"]',
      '[engine]',
      'runtime="runc"',
      'cgroup_manager="cgroupfs"',
      'events_logger="file"',
      '[network]',
      'network_backend="cni"',
      `network_config_dir="${netDir}"`,
      `cni_plugin_dirs=["${bin}"]`,
      '',
    ].join('\n'),
  );
  await writeFile(
    join(dir, 'storage.conf'),
    `[storage]\ndriver="vfs"\nrunroot="${dir}/run"\ngraphroot="${dir}/root"\n`,
  );
  env = {
    PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: dir,
    CONTAINERS_CONF: join(dir, 'containers.conf'),
    CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf'),
  };
  const rootfs = join(dir, 'rootfs');
  await mkdir(join(rootfs, 'bin'), { recursive: true });
  await copyFile('/bin/busybox', join(rootfs, 'bin/busybox'));
  await chmod(join(rootfs, 'bin/busybox'), 0o755);
  for (const a of ['sh', 'sleep', 'ping', 'ip', 'cat']) await symlink('busybox', join(rootfs, 'bin', a));
  await run(['tar', '-C', rootfs, '-cf', join(dir, 'rootfs.tar'), '.']);
  await podman(['import', join(dir, 'rootfs.tar'), IMAGE]);
});

after(async () => {
  if (dir) {
    await podman(['rm', '-f', '-a'], false).catch(() => undefined);
    await podman(['rmi', '-f', '-a'], false).catch(() => undefined);
  }
  await lab.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('podman container on a Tessera network gets its address and reaches a second one', async () => {
  const a = (await podman(['run', '-d', '--network', 'tessera-test', IMAGE, 'sleep', '120'])).stdout.trim();
  const addr = (await podman(['exec', a, 'ip', '-4', '-o', 'addr', 'show', 'eth0'])).stdout;
  const m = /inet (10\.44\.\d+\.\d+)\/32/.exec(addr);
  assert.ok(m, `container A has a /32 from the Tessera pool: ${addr}`);
  const ipA = m[1]!;
  const held = await lab.ipam.ipsByHandle(`tessera-test.${a}`);
  assert.deepEqual(
    held.map((i) => i.address),
    [ipA],
    'IPAM handle <network>.<containerID>',
  );
  const b = await podman(['run', '--rm', '--network', 'tessera-test', IMAGE, 'ping', '-c', '1', '-W', '3', ipA], false);
  assert.equal(b.code, 0, `container B reaches A: ${b.stdout}${b.stderr}`);
  await podman(['rm', '-f', a]);
  // podman's network teardown may also run from conmon's exit hook (`podman container cleanup`), a
  // separate process: give the DEL a moment rather than reading the allocation once.
  let left = await lab.ipam.ipsByHandle(`tessera-test.${a}`);
  for (const deadline = Date.now() + 10_000; left.length > 0 && Date.now() < deadline;) {
    await new Promise((r) => setTimeout(r, 200));
    left = await lab.ipam.ipsByHandle(`tessera-test.${a}`);
  }
  assert.deepEqual(left, [], 'podman rm runs DEL, which releases');
});
