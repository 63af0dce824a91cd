/**
 * LIVE NetworkPolicy conformance: every case of ../shared/conformance/netpol-public.json (relative to
 * the repo root's parent) on one real 3-node lab with the real CNI plugin and agents (needs `make build`).
 *
 * - 9 pods x/a..z/c spread round-robin over node-1..3 (same-node and cross-node pairs), labelled
 *   pod=<name>; namespaces labelled ns=<ns> (the lab sets kubernetes.io/metadata.name).
 * - Each case starts pristine (policies deleted, labels restored) and is checked to be pristine by a
 *   full TCP matrix before its first step (so a slow deletion cannot leak into the next case).
 * - TCP and UDP probes run live through `matrix` (socat servers on 80/81), retried for up to ~20 s.
 * - SCTP in a kernel with SCTP sockets (the VM kernel: test/vm-conformance.test.ts runs this file
 *   there): pods serve SCTP/80 and /81 and declare those ports, and `matrix` probes real SCTP
 *   associations, as for TCP.
 * - SCTP in a kernel without SCTP sockets (this host's): every client pod sends raw SCTP INIT packets
 *   (python3 raw socket, IP protocol 132, CRC32c computed) to every server; a private `inet tsrsctp`
 *   table in each server pod's netns counts SCTP packets per source address at prerouting. Allowed =
 *   the counter moved. Tessera's forward-hook verdict happens on the node before that, so this
 *   observes it exactly. The WorkloadEndpoints get the model's serve-<port>-sctp ports added in the
 *   datastore (what the CNI writes for a Pod declaring them).
 * - TESSERA_CONFORMANCE_CASES=id,id,... runs only those cases (the VM suite in `make test` runs the
 *   SCTP ones; `make test-vm` runs them all).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { kindFor } from '../src/api/kinds.js';
import type { Resource } from '../src/api/resource.js';
import { ResourceStore, openBackend } from '../src/datastore/index.js';
import {
  labDown,
  labUp,
  matrix,
  podAddress,
  podCreate,
  readPods,
  type LabState,
  type PodState,
} from '../src/lab/index.js';
import { sleep } from '../src/lib/clock.js';
import { labTimeoutMs } from '../src/lab/vm/timeouts.js';
import { run } from '../src/lib/exec.js';
import {
  loadSuite,
  stepsOf,
  substitute,
  type Suite as SuiteModel,
  type SuiteProbe,
  type SuiteStep,
} from './helpers/netpol-suite.js';

type Probe = SuiteProbe;
type Step = SuiteStep<Resource>;
type Suite = SuiteModel<Resource>;

const labName = `tsrc${randomBytes(3).toString('hex')}`;
const POD = kindFor('v1', 'Pod')!;
const NS = kindFor('v1', 'Namespace')!;
const KNP = kindFor('networking.k8s.io/v1', 'NetworkPolicy')!;
const WEP = kindFor('projectcalico.org/v3', 'WorkloadEndpoint')!;
// Policy changes reach the kernel through etcd watches and three agents' apply cycles while up to nine
// probers run at once on a 2-core machine: a grid that already matches returns at once, so this only
// bounds how long a wrong grid is retried.
const PROBE_DEADLINE_MS = labTimeoutMs(20_000);
// First full connectivity after nine concurrent pod creations (every agent programs every route).
const WARM_DEADLINE_MS = labTimeoutMs(60_000);

// Raw SCTP INIT sender, run in the client pod's netns. argv[1]: JSON {targets:[ip], port, count}.
const SCTP_SENDER = String.raw`
import json, os, socket, struct, sys, time
job = json.loads(sys.argv[1])
T = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    T.append(c)
def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 132)
for n in range(job['count']):
    for ip in job['targets']:
        sport = 20000 + (os.getpid() + n) % 20000
        init = struct.pack('!BBHIIHHI', 1, 0, 20, int.from_bytes(os.urandom(4), 'big') | 1, 65535, 1, 1, 1)
        hdr = struct.pack('!HHII', sport, job['port'], 0, 0)
        csum = crc32c(hdr + init)
        pkt = struct.pack('!HHI', sport, job['port'], 0) + struct.pack('<I', csum) + init
        s.sendto(pkt, (ip, 0))
    time.sleep(0.05)
`;

function gridOf(order: readonly string[], allowed: (from: string, to: string) => boolean): string[] {
  return order.map((from) => order.map((to) => (from === to ? '?' : allowed(from, to) ? '.' : 'X')).join(''));
}

/** Cells that differ (the diagonal is never scored). */
function mismatches(order: readonly string[], want: readonly string[], got: readonly string[]): string[] {
  const out: string[] = [];
  order.forEach((from, r) =>
    order.forEach((to, c) => {
      if (r !== c && want[r]?.[c] !== got[r]?.[c])
        out.push(`${from}->${to} want ${want[r]?.[c] === '.' ? 'allow' : 'deny'}`);
    }),
  );
  return out;
}

class SctpObserver {
  constructor(private readonly pods: readonly PodState[]) {}

  async install(): Promise<void> {
    await Promise.all(
      this.pods.map((server) => {
        const lines = [
          'add table inet tsrsctp',
          'add chain inet tsrsctp pre { type filter hook prerouting priority -300; policy accept; }',
        ];
        for (const client of this.pods) {
          if (client === server) continue;
          lines.push(
            `add rule inet tsrsctp pre ip saddr ${podAddress(client, 4)} meta l4proto 132 counter comment "${client.namespace}/${client.name}"`,
          );
        }
        return run(['nft', '-f', '-'], { netns: server.netns, input: `${lines.join('\n')}\n` });
      }),
    );
  }

  /** counters[server][client] = packets seen for `port` since install, keyed by pod ref. */
  private async counters(port: number): Promise<Map<string, Map<string, number>>> {
    void port;
    const out = new Map<string, Map<string, number>>();
    await Promise.all(
      this.pods.map(async (server) => {
        const r = await run(['nft', '-j', 'list', 'table', 'inet', 'tsrsctp'], { netns: server.netns });
        const doc = JSON.parse(r.stdout) as {
          nftables: { rule?: { comment?: string; expr: Record<string, { packets?: number }>[] } }[];
        };
        const m = new Map<string, number>();
        for (const item of doc.nftables) {
          if (!item.rule?.comment) continue;
          const c = item.rule.expr.find((e) => e.counter)?.counter?.packets ?? 0;
          m.set(item.rule.comment, c);
        }
        out.set(`${server.namespace}/${server.name}`, m);
      }),
    );
    return out;
  }

  async observe(port: number, order: readonly string[]): Promise<string[]> {
    // Counters count every SCTP packet from a client; only one probe runs at a time, so deltas are ours.
    const before = await this.counters(port);
    await Promise.all(
      this.pods.map((client) =>
        run(
          [
            'python3',
            '-c',
            SCTP_SENDER,
            JSON.stringify({
              targets: this.pods.filter((p) => p !== client).map((p) => podAddress(p, 4)),
              port,
              count: 3,
            }),
          ],
          {
            netns: client.netns,
          },
        ),
      ),
    );
    await sleep(300);
    const after = await this.counters(port);
    return gridOf(order, (from, to) => (after.get(to)?.get(from) ?? 0) > (before.get(to)?.get(from) ?? 0));
  }
}

test(
  'netpol-public.json: every case live on a 3-node lab (TCP, UDP, SCTP)',
  { timeout: labTimeoutMs(900_000) },
  async (t) => {
    const suite: Suite = loadSuite<Resource>();
    const only = process.env['TESSERA_CONFORMANCE_CASES']?.split(',').filter((x) => x !== '');
    if (only) {
      const unknown = only.filter((id) => !suite.cases.some((c) => c.id === id));
      assert.deepEqual(unknown, [], 'TESSERA_CONFORMANCE_CASES names cases the suite does not have');
      suite.cases = suite.cases.filter((c) => only.includes(c.id));
    }
    const order = suite.model.podOrder;
    const cfgDir = mkdtempSync(join(tmpdir(), 'tessera-conf-'));
    const env = { ...process.env, TESSERA_CONFIG: join(cfgDir, 'config.json') };
    let backend: ReturnType<typeof openBackend> | undefined;
    t.after(async () => {
      await backend?.close().catch(() => undefined);
      await labDown(labName, { env }).catch(() => undefined);
      rmSync(cfgDir, { recursive: true, force: true });
    });

    const started = Date.now();
    const lab: LabState = await labUp({ name: labName, nodes: 3 }, { env });
    await Promise.all(
      suite.model.pods.map((p, i) =>
        podCreate(lab, `${p.ns}/${p.name}`, { node: `node-${(i % 3) + 1}`, labels: { ...p.labels } }),
      ),
    );
    const pods = readPods(lab.dir);
    const podByRef = new Map(pods.map((p) => [`${p.namespace}/${p.name}`, p]));
    const ips = new Map(order.map((ref) => [ref, podAddress(podByRef.get(ref)!, 4)]));
    backend = openBackend({ endpoints: lab.etcd!.endpoints });
    const store = new ResourceStore(backend);

    // Namespace labels as the model wants them; SCTP named ports on the endpoints.
    const setNsLabels = async (ns: string, labels: Record<string, string>) => {
      const cur = await store.get(NS, ns);
      assert.ok(cur, `namespace "${ns}" missing`);
      await store.update({ ...cur, metadata: { ...cur.metadata, labels } });
    };
    const setPodLabels = async (ref: string, labels: Record<string, string>) => {
      const [ns, name] = ref.split('/') as [string, string];
      const cur = await store.get(POD, name, ns);
      assert.ok(cur, `pod "${ref}" missing`);
      await store.update({ ...cur, metadata: { ...cur.metadata, labels } });
    };
    for (const [ns, v] of Object.entries(suite.model.namespaces)) await setNsLabels(ns, { ...v.labels });
    const sctpPorts = suite.model.namedPorts.filter((p) => p.protocol === 'SCTP');
    const realSctp = lab.sctpSockets === true;
    t.diagnostic(
      `SCTP probes: ${realSctp ? 'real SCTP sockets' : 'raw INIT packets (no SCTP sockets in this kernel)'}`,
    );
    for (const wep of realSctp ? [] : await store.list(WEP)) {
      const spec = wep.spec as { ports?: { name: string; port: number; protocol: string }[] };
      const ports = [...(spec.ports ?? [])];
      for (const p of sctpPorts) if (!ports.some((x) => x.name === p.name)) ports.push(p);
      await store.update({ ...wep, spec: { ...spec, ports } });
    }
    const sctp = new SctpObserver(order.map((r) => podByRef.get(r)!));
    if (!realSctp) await sctp.install();

    const measure = async (probe: Probe): Promise<string[]> => {
      if (probe.protocol === 'SCTP' && !realSctp) return sctp.observe(probe.port, order);
      const m = await matrix(lab, { port: probe.port, protocol: probe.protocol, timeoutMs: labTimeoutMs(800) });
      return gridOf(order, (from, to) => m.allowed[from]?.[to] === true);
    };
    const expectGrid = async (
      want: string[],
      probe: Probe,
      deadlineMs = PROBE_DEADLINE_MS,
    ): Promise<{ ok: boolean; diff: string[]; tries: number }> => {
      const deadline = Date.now() + deadlineMs;
      let diff: string[] = [];
      let tries = 0;
      do {
        tries++;
        diff = mismatches(order, want, await measure(probe));
        if (diff.length === 0) return { ok: true, diff, tries };
        await sleep(200);
      } while (Date.now() < deadline);
      return { ok: false, diff, tries };
    };
    const allOpen = order.map(() => '.'.repeat(order.length));
    // Routes come up asynchronously after pods appear.
    const warm = await expectGrid(allOpen, { port: 80, protocol: 'TCP', grid: allOpen }, WARM_DEADLINE_MS);
    assert.ok(warm.ok, `pristine lab is not fully connected: ${warm.diff.join(', ')}`);
    const setupMs = Date.now() - started;

    const live = new Set<string>();
    const results: { id: string; name: string; ok: boolean; detail: string; ms: number }[] = [];
    for (const c of suite.cases) {
      const t0 = Date.now();
      // Reset to pristine.
      for (const k of live) {
        const [ns, name] = k.split('/') as [string, string];
        await store.delete(KNP, name, ns);
      }
      live.clear();
      for (const p of suite.model.pods) await setPodLabels(`${p.ns}/${p.name}`, { ...p.labels });
      for (const [ns, v] of Object.entries(suite.model.namespaces)) await setNsLabels(ns, { ...v.labels });
      const pristine = await expectGrid(allOpen, { port: 80, protocol: 'TCP', grid: allOpen });
      const problems: string[] = pristine.ok
        ? []
        : [`not pristine before the case: ${pristine.diff.slice(0, 5).join(', ')}`];
      const podLabels = new Map(suite.model.pods.map((p) => [`${p.ns}/${p.name}`, { ...p.labels }]));
      const nsLabels = new Map(Object.entries(suite.model.namespaces).map(([ns, v]) => [ns, { ...v.labels }]));
      const steps: Step[] = stepsOf(c);
      for (const [si, step] of steps.entries()) {
        if (step.deleteAllPolicies) {
          for (const k of live) {
            const [ns, name] = k.split('/') as [string, string];
            await store.delete(KNP, name, ns);
          }
          live.clear();
        }
        for (const d of step.deletePolicies ?? []) {
          await store.delete(KNP, d.name, d.namespace);
          live.delete(`${d.namespace}/${d.name}`);
        }
        for (const pl of step.setup?.podLabels ?? []) {
          const l = podLabels.get(pl.pod)!;
          Object.assign(l, pl.set ?? {});
          for (const r of pl.remove ?? []) delete l[r];
          await setPodLabels(pl.pod, { ...l });
        }
        for (const nl of step.setup?.namespaceLabels ?? []) {
          const l = nsLabels.get(nl.namespace)!;
          Object.assign(l, nl.set ?? {});
          for (const r of nl.remove ?? []) delete l[r];
          await setNsLabels(nl.namespace, { ...l });
        }
        for (const p of step.policies ?? []) {
          const r = JSON.parse(substitute(JSON.stringify(p), ips)) as Resource;
          const { resourceVersion: _rv, ...metadata } = r.metadata;
          await store.apply({ ...r, metadata });
          live.add(`${r.metadata.namespace}/${r.metadata.name}`);
        }
        await sleep(300);
        for (const probe of step.probes) {
          const res = await expectGrid(probe.grid, probe);
          if (!res.ok)
            problems.push(
              `step ${si} ${probe.protocol}/${probe.port}: ${res.diff.length} cells differ after ${res.tries} tries: ${res.diff.slice(0, 6).join(', ')}`,
            );
        }
      }
      results.push({
        id: c.id,
        name: c.name,
        ok: problems.length === 0,
        detail: problems.join('; '),
        ms: Date.now() - t0,
      });
      t.diagnostic(
        `${problems.length === 0 ? 'PASS' : 'FAIL'} ${c.id} ${c.name} (${Date.now() - t0} ms)${problems.length ? `: ${problems.join('; ')}` : ''}`,
      );
    }
    const failed = results.filter((r) => !r.ok);
    t.diagnostic(
      `setup ${setupMs} ms, cases ${results.length}, passed ${results.length - failed.length}, total ${Date.now() - started} ms`,
    );
    assert.deepEqual(
      failed.map((r) => `${r.id} ${r.name}: ${r.detail}`),
      [],
    );
    assert.equal(results.length, suite.cases.length);
  },
);
