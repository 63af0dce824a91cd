/**
 * What this host's kernel cannot run (no ipip device, no SCTP sockets), run for real in a VM kernel
 * (needs root, qemu-system-x86, `make build`): ordinary test files of this suite run unchanged
 * inside one fresh QEMU VM with Debian's stock kernel (`vmExec`, the host's / over 9p):
 * - test/routing-modes.test.ts, modes `ipip` and `ipip-crosssubnet` (skipped on this host): agent
 *   routing over IPIP, Always on one subnet and CrossSubnet across two; the route shape, the tunnel
 *   device and address, natOutgoing, policy on tunnelled traffic, a VXLAN pool beside the IPIP pool;
 * - test/conformance-live.test.ts: there the lab's pods serve SCTP and `matrix` probes real SCTP
 *   associations. `make test` runs the public suite's SCTP cases; `make test-vm`
 *   (TESSERA_VM_TESTS=1) runs every public case, so policy is shown to behave the same on both
 *   kernels.
 * test/vm-ipip.test.ts covers the user's path to the same kernel: `tessera lab up --kernel vm`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { vmExec } from '../src/lab/index.js';

interface PublicCase {
  id: string;
  name: string;
}

const suitePath = join(import.meta.dirname, '..', '..', 'shared', 'conformance', 'netpol-public.json');
const all = process.env['TESSERA_VM_TESTS'] === '1';
const MODES = ['ipip', 'ipip-crosssubnet'];

test(
  `in a VM kernel: IPIP routing modes, and ${all ? 'every public conformance case' : 'the SCTP conformance cases'} with real SCTP sockets`,
  { timeout: 3_000_000 },
  async (t) => {
    const suite = JSON.parse(readFileSync(suitePath, 'utf8')) as { cases: PublicCase[] };
    const cases = all ? suite.cases : suite.cases.filter((c) => JSON.stringify(c).includes('SCTP'));
    assert.ok(cases.length >= 2, 'the public suite has SCTP cases');
    let out = '';
    const t0 = Date.now();
    const code = await vmExec(
      [
        'node',
        '--import',
        'tsx',
        '--test',
        '--test-concurrency=1',
        '--test-reporter=tap',
        'test/routing-modes.test.ts',
        'test/conformance-live.test.ts',
      ],
      {
        env: {
          TESSERA_ROUTING_MODES: MODES.join(','),
          TESSERA_CONFORMANCE_CASES: cases.map((c) => c.id).join(','),
          // The in-VM labs write pods straight to the datastore: every Node process is slow under TCG,
          // and the Kubernetes path is covered on this host.
          TESSERA_LAB_KUBE_API: '0',
        },
        timeoutMs: 2_900_000,
        onOutput: (s) => {
          out += s;
        },
      },
    );
    const lines = out.split('\n').map((l) => l.trim());
    for (const l of lines.filter((x) => /^# (PASS|FAIL) |^# setup |^# SCTP probes|^(not )?ok \d+ - /.test(x)))
      t.diagnostic(l.replace(/^# /, ''));
    t.diagnostic(`VM run ${Math.round((Date.now() - t0) / 1000)} s`);
    assert.equal(code, 0, `the suite failed in the VM kernel:\n${out.slice(-8000)}`);
    // The exit code covers every failure; here: each mode ran (its suite started and was not skipped).
    for (const m of MODES) {
      assert.ok(out.includes(`# Subtest: routing mode ${m} (`), `routing mode ${m} ran in the VM`);
      assert.ok(
        !lines.some((l) => l.includes(`routing mode ${m} (`) && /# SKIP/.test(l)),
        `routing mode ${m} was not skipped in the VM`,
      );
    }
    assert.match(out, /SCTP probes: real SCTP sockets/);
    for (const c of cases) assert.match(out, new RegExp(`PASS ${c.id} `), `case ${c.id} (${c.name}) passed in the VM`);
  },
);
