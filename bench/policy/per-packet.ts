/**
 * bench-policy part 3, per-packet cost: the new-connection rate between two pods with 1,000
 * policies in place vs with none, on one node of the lab.
 *
 * Pods on one node, namespace bench-pc: `client`, and three connrate servers:
 *   srv   selected by all 1,000 ingress policies (orders 1..1000). Policy i allows TCP from
 *         `role == "client"` to port 10000+i, so for our SYN the source set lookup matches and the
 *         port does not: every policy chain is entered and its rule evaluated. Only the last policy
 *         allows SERVER_PORT. This is the worst case of the nft layout: srv's ingress dispatch
 *         chain jumps 1,000 policy chains (and checks the accept mark after each).
 *   base  in the same namespace, selected by no policy (its profile allows): the no-policy rate.
 *   lin   no Tessera policy, but a linear chain of 1,000 iptables-style rules (source set + port,
 *         the last one matching) in a table of our own in the node's forward hook: the contrast.
 * Only a SYN traverses policy (everything after it takes the `ct state established` fast path), and
 * the client (connrate.c) RST-closes so every connection is a new conntrack entry.
 * Phase 0 measures before any policy exists, phase 1 after all 1,000 are programmed on the node;
 * in each phase the three targets are measured in interleaved short rounds. The target ratio is
 * the median over rounds of srv / base in phase 1 (adjacent runs, same path except policy, so load
 * from elsewhere on the machine mostly cancels); srv phase 1 / srv phase 0 is shown too.
 */
import { podCreate } from '../../src/lab/index.js';
import { run } from '../../src/lib/exec.js';
import type { Resource } from '../../src/api/index.js';
import { percentile } from '../lib/stats.js';
import type { TargetCheck } from './checks.js';
import { SERVER_PORT, connectRate, policyResource, sleep, startServer, type LabBench } from './lab-kit.js';

const POLICIES = Number(process.env['PC_POLICIES'] ?? 1000);
const ROUNDS = Number(process.env['PC_ROUNDS'] ?? 7);
const RUN_MS = Number(process.env['PC_RUN_MS'] ?? 500);
const NS = 'bench-pc';
const LINEAR_TABLE = 'tsrbench_linear';

const median = (xs: readonly number[]): number => percentile(xs, 50);

function policy(i: number): Resource {
  return policyResource({
    apiVersion: 'projectcalico.org/v3',
    kind: 'NetworkPolicy',
    metadata: { name: `pc-${String(i).padStart(4, '0')}`, namespace: NS },
    spec: {
      order: i,
      selector: 'role == "server"',
      types: ['Ingress'],
      ingress: [
        {
          action: 'Allow',
          protocol: 'TCP',
          source: { selector: 'role == "client"' },
          destination: { ports: [i === POLICIES ? SERVER_PORT : 10_000 + i] },
        },
      ],
    },
  });
}

/** The iptables-style contrast: jump (new connections to `dst` only) to N linear rules. */
function linearRuleset(clientIp: string, dst: string, n: number): string {
  const lines = [
    `add table inet ${LINEAR_TABLE}`,
    `add set inet ${LINEAR_TABLE} clients { type ipv4_addr; elements = { ${clientIp} }; }`,
    `add chain inet ${LINEAR_TABLE} forward_new { type filter hook forward priority -10; policy accept; }`,
    `add chain inet ${LINEAR_TABLE} lin`,
    `add rule inet ${LINEAR_TABLE} forward_new ip daddr ${dst} ct state new jump lin`,
  ];
  for (let i = 1; i <= n; i++) {
    lines.push(
      `add rule inet ${LINEAR_TABLE} lin ip saddr @clients tcp dport ${i === n ? SERVER_PORT : 10_000 + i} counter accept`,
    );
  }
  return lines.join('\n') + '\n';
}

async function policyChains(netns: string): Promise<number> {
  const r = await run(['nft', 'list', 'chains', 'inet'], { netns, check: false });
  return (r.stdout.match(/chain pi-/g) ?? []).length;
}

type Target = 'srv' | 'base' | 'lin';
type Rates = Record<Target, number[]>;

async function measure(
  b: LabBench,
  from: string,
  ips: Record<Target, string>,
): Promise<{ rates: Rates; failed: number }> {
  const rates: Rates = { srv: [], base: [], lin: [] };
  let failed = 0;
  for (let r = 0; r < ROUNDS; r++) {
    for (const t of ['srv', 'base', 'lin'] as const) {
      const m = await connectRate(b, from, ips[t], RUN_MS);
      rates[t].push(m.rate);
      failed += m.failed;
    }
  }
  return { rates, failed };
}

export async function runPerPacket(b: LabBench): Promise<TargetCheck[]> {
  const node = b.lab.nodes.at(-1)!;
  const mk = (name: string, role: string) => podCreate(b.lab, `${NS}/${name}`, { node: node.name, labels: { role } });
  const [client, srv, base, lin] = await Promise.all([
    mk('client', 'client'),
    mk('srv', 'server'),
    mk('base', 'base'),
    mk('lin', 'linear'),
  ]);
  const ips: Record<Target, string> = { srv: srv!.ips[0]!, base: base!.ips[0]!, lin: lin!.ips[0]! };
  try {
    for (const p of [srv!, base!, lin!]) await startServer(b, p.netns);
    await run(['nft', '-f', '-'], { netns: node.netns, input: linearRuleset(client!.ips[0]!, ips.lin, POLICIES) });
    for (const t of ['srv', 'base', 'lin'] as const) {
      const deadline = Date.now() + 10_000;
      while ((await connectRate(b, client!.netns, ips[t], 50)).rate === 0) {
        if (Date.now() > deadline) throw new Error(`${t} (${ips[t]}) not reachable from the client`);
        await sleep(100);
      }
    }
    const before = await measure(b, client!.netns, ips);

    const t0 = performance.now();
    for (let i = 1; i <= POLICIES; i += 100) {
      const batch = Array.from({ length: Math.min(100, POLICIES - i + 1) }, (_, k) => policy(i + k));
      await b.store.applyBatch(batch.map((resource) => ({ op: 'apply' as const, resource })));
    }
    const tWritten = performance.now();
    const deadline = Date.now() + 60_000;
    while ((await policyChains(node.netns)) < POLICIES) {
      if (Date.now() > deadline)
        throw new Error(`node ${node.name} did not program ${POLICIES} policy chains within 60 s`);
      await sleep(100);
    }
    const tProgrammed = performance.now();
    // The agents have just ingested 1,000 policies (GC, status writes): let that burst end so it does
    // not land on whichever target is measured first.
    await sleep(Number(process.env['PC_SETTLE_MS'] ?? 2000));
    while ((await connectRate(b, client!.netns, ips.srv, 50)).rate === 0) {
      if (Date.now() > deadline) throw new Error(`srv not reachable through ${POLICIES} policies`);
      await sleep(100);
    }
    const after = await measure(b, client!.netns, ips);

    const fmt = (xs: number[]) => `${median(xs).toFixed(0).padStart(6)}/s  [${xs.map((x) => x.toFixed(0)).join(' ')}]`;
    console.log(
      `client → server on ${node.name}, sequential connect + RST close, ${ROUNDS} interleaved rounds × ${RUN_MS} ms each; median [runs]`,
    );
    console.log(
      `${POLICIES} policies written in ${(tWritten - t0).toFixed(0)} ms, all policy chains on ${node.name} after ${(tProgrammed - t0).toFixed(0)} ms`,
    );
    console.log(
      `  phase 0, no policies:   srv ${fmt(before.rates.srv)}   base ${fmt(before.rates.base)}   lin ${fmt(before.rates.lin)}`,
    );
    console.log(
      `  phase 1, ${POLICIES} policies: srv ${fmt(after.rates.srv)}   base ${fmt(after.rates.base)}   lin ${fmt(after.rates.lin)}`,
    );
    console.log(`  failed connects: phase 0 ${before.failed}, phase 1 ${after.failed}`);
    // Median of per-round ratios: each round's runs are adjacent in time.
    const r = (a: number[], c: number[]) => median(a.map((x, k) => x / c[k]!));
    const extraUs = (t: Target) => 1e6 / median(after.rates[t]) - 1e6 / median(after.rates.base);
    console.log(
      `  srv/base phase 0 (calibration, no policies anywhere):          ${r(before.rates.srv, before.rates.base).toFixed(2)}`,
    );
    console.log(
      `  srv phase 1 / srv phase 0 (same pair, with vs without):        ${r(after.rates.srv, before.rates.srv).toFixed(2)}`,
    );
    console.log(
      `  base phase 1 / base phase 0 (${POLICIES} policies in ns, none select it): ${r(after.rates.base, before.rates.base).toFixed(2)}`,
    );
    console.log(
      `  lin / base phase 1 (linear chain of ${POLICIES} rules, iptables-style): ${r(after.rates.lin, after.rates.base).toFixed(2)}`,
    );
    console.log(
      `  added cost per new connection: ${POLICIES} Tessera policies ~${extraUs('srv').toFixed(0)} µs (~${((extraUs('srv') * 1000) / POLICIES).toFixed(0)} ns per policy); ` +
        `${POLICIES} linear rules ~${extraUs('lin').toFixed(0)} µs (~${((extraUs('lin') * 1000) / POLICIES).toFixed(0)} ns per rule)`,
    );
    return [
      {
        label: `new-conn rate, ${POLICIES} policies / none (srv/base)`,
        value: r(after.rates.srv, after.rates.base),
        target: 0.9,
        unit: '',
        direction: 'at-least',
      },
    ];
  } finally {
    // The policies stay: `lab down` removes the whole datastore with the lab.
    await run(['nft', 'delete', 'table', 'inet', LINEAR_TABLE], { netns: node.netns, check: false });
  }
}
