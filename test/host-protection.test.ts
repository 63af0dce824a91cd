/**
 * Host protection end to end (issue 17): HostEndpoints, failsafes, preDNAT, doNotTrack,
 * applyOnForward, defaultEndpointToHostAction and auto host endpoints, on one live 3-node
 * `--routing bgp` lab with an external router (a client that is no host endpoint). Driven through
 * the built CLI where the CLI is the contract (`apply`, `lab node listen`, `lab nodeport`,
 * `policy explain`), the lab library for probes. Needs root and `make build`.
 *
 * The tests run in order on the same lab; each leaves the host policies as the next one expects.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { isRunning } from '../src/lab/kernel.js';
import {
  hostEndpointRef,
  labDown,
  labUp,
  loadLab,
  matrix,
  podCreate,
  probePods,
  readListeners,
  readPod,
  routerAdd,
  type LabState,
} from '../src/lab/index.js';
import { probeFrom } from '../src/lab/probe.js';
import { run } from '../src/lib/exec.js';
import { applyDefaults, lookupKind, parseManifests, validateResource } from '../src/api/index.js';
import { openBackend, ResourceStore } from '../src/datastore/index.js';
import { eventually } from './helpers/lab.js';

const BIN = join(import.meta.dirname, '..', 'bin', 'tessera');
const BLOCKED_MS = 600;

describe('host protection on a 3-node --routing bgp lab', { timeout: 600_000 }, () => {
  const name = `hp${randomBytes(3).toString('hex')}`;
  const cfgDir = mkdtempSync(join(tmpdir(), 'tessera-hp-'));
  const env = { ...process.env, TESSERA_CONFIG: join(cfgDir, 'config.json') };
  const cli = (args: string[], timeoutMs = 60_000) => run([BIN, ...args], { env, check: false, timeoutMs });
  const lab = (): LabState => loadLab(name, env);
  const netns = (n: string) => lab().nodes.find((x) => x.name === n)!.netns;
  const podIp = (ref: string) => {
    const [ns, pod] = ref.split('/') as [string, string];
    return readPod(lab().dir, ns, pod)!.ips[0]!.split('/')[0]!;
  };
  // Valid manifests go straight to the datastore as `apply` writes them (validated, defaulted): a
  // CLI process per step costs seconds on a loaded machine. Bad input goes through the CLI.
  let backend: ReturnType<typeof openBackend> | undefined;
  let store: ResourceStore | undefined;
  const ds = () => (store ??= new ResourceStore((backend = openBackend({ endpoints: lab().etcd!.endpoints }))));
  const apply = async (yaml: string) => {
    const docs = parseManifests(yaml).map((r) => {
      assert.deepEqual(validateResource(r), [], `invalid test manifest ${r.kind} ${r.metadata.name}`);
      return applyDefaults(r);
    });
    await ds().applyBatch(docs.map((resource) => ({ op: 'apply' as const, resource })));
  };
  const del = async (kind: string, name: string) => {
    await ds().delete(lookupKind(kind)!, name);
  };
  const can = async (from: string, to: string, port: number, protocol: 'TCP' | 'UDP' = 'TCP') =>
    (await probePods(lab(), from, to, { port, protocol, timeoutMs: BLOCKED_MS })).connected;
  /** Where a probe runs from and goes to: `node/NAME`, `router/NAME`, a pod, or an address. */
  const endpoint = (ref: string) => {
    const h = hostEndpointRef(lab(), ref);
    if (h) return h;
    if (!ref.includes('/')) return { netns: '', ip: ref };
    const [ns, pod] = ref.split('/') as [string, string];
    return { netns: readPod(lab().dir, ns, pod)!.netns, ip: podIp(ref) };
  };
  /**
   * Polls until every [from, to, port, want] holds (the agents program asynchronously). All flows
   * from one source are probed at once by one prober process, and the sources in parallel.
   */
  const expectFlows = async (flows: [string, string, number, boolean][], timeoutMs = 20_000) =>
    eventually(timeoutMs, async () => {
      const bySource = new Map<string, [string, string, number, boolean][]>();
      for (const f of flows) bySource.set(f[0], [...(bySource.get(f[0]) ?? []), f]);
      const results = await Promise.all(
        [...bySource].map(async ([from, fs]) =>
          Promise.all(
            [...new Set(fs.map((f) => f[2]))].map(async (port) => {
              const mine = fs.filter((f) => f[2] === port);
              const got = await probeFrom(
                endpoint(from).netns,
                mine.map((f) => ({ key: f[1], ip: endpoint(f[1]).ip })),
                { port, protocol: 'TCP', timeoutMs: BLOCKED_MS },
              );
              return mine.map((f) => [f, got.find((g) => g.key === f[1])!.connected] as const);
            }),
          ),
        ),
      );
      for (const [[from, to, port, want], connected] of results.flat(2)) {
        assert.equal(connected, want, `${from} -> ${to}:${port} should be ${want ? 'allowed' : 'blocked'}`);
      }
    });
  const established = async (node: string) => {
    const r = await cli(['node', 'status', node]);
    return r.code === 0 ? (r.stdout.match(/Established/g) ?? []).length : 0;
  };
  const heps = ['node-1', 'node-2', 'node-3']
    .map(
      (nd) =>
        `---\napiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: ${nd}-all, labels: {role: node}}\nspec: {node: ${nd}, interfaceName: "*"}\n`,
    )
    .join('');

  before(async () => {
    await labUp({ name, nodes: 3, routing: 'bgp' }, { env });
    await podCreate(lab(), 'x/a', { node: 'node-2' });
    await podCreate(lab(), 'x/b', { node: 'node-1' });
    await podCreate(lab(), 'x/c', { node: 'node-3' });
    await routerAdd(lab().dir, 'r1', { asNumber: 65010 });
    for (const nd of ['node-1', 'node-3']) {
      const r = await cli(['lab', 'node', 'listen', nd, '--ports', 'tcp:22,tcp:8080,udp:5353,tcp:8081']);
      assert.equal(r.code, 0, r.stderr);
    }
  });
  after(async () => {
    await backend?.close();
    const s = lab();
    const listeners = readListeners(s, 'node-1');
    await labDown(name, { env }).catch(() => undefined);
    rmSync(cfgDir, { recursive: true, force: true });
    // `lab down` takes the node listeners with their namespaces.
    for (const l of listeners)
      assert.equal(isRunning(l.process), false, `listener ${l.protocol}:${l.port} survived lab down`);
  });

  test('bad input is rejected with field paths and changes nothing', async () => {
    const f = join(cfgDir, 'bad.yaml');
    writeFileSync(
      f,
      `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: pre-egress}\nspec: {preDNAT: true, applyOnForward: true, egress: [{action: Allow}]}\n` +
        `---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: dnt}\nspec: {doNotTrack: true, ingress: [{action: Allow}]}\n` +
        `---\napiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: nowhere}\nspec: {node: node-1}\n`,
    );
    const r = await cli(['apply', '-f', f]);
    assert.notEqual(r.code, 0);
    for (const path of ['spec.egress', 'spec.applyOnForward', 'spec.interfaceName'])
      assert.match(r.stderr, new RegExp(path.replace('.', '\\.')));
    for (const kind of ['globalnetworkpolicies', 'hostendpoints']) {
      const g = await cli(['get', kind, '-o', 'name']);
      assert.equal(g.stdout.trim(), '', `${kind} written despite the rejection`);
    }
  });

  test('deny-all host policy on every node: failsafes keep SSH, BGP and etcd; pods unaffected', async () => {
    await expectFlows([['router/r1', 'node/node-1', 8080, true]]);
    await apply(
      `${heps}---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: deny-all-hosts}\nspec: {selector: role == 'node', types: [Ingress, Egress]}\n`,
    );
    await expectFlows([
      ['router/r1', 'node/node-1', 8080, false],
      ['x/a', 'node/node-1', 8080, false],
      ['router/r1', 'node/node-1', 22, true],
      ['x/a', 'node/node-1', 22, true],
    ]);
    assert.equal(await can('router/r1', 'node/node-3', 5353, 'UDP'), false);
    // BGP sessions survive (and the agents' etcd watches: a new pod is wired, its policy programmed).
    await eventually(15_000, async () => {
      for (const nd of ['node-1', 'node-2', 'node-3'])
        assert.ok((await established(nd)) >= 2, `${nd} lost BGP sessions`);
    });
    await podCreate(lab(), 'x/d', { node: 'node-3' });
    await eventually(20_000, async () => {
      const m = await matrix(lab(), { port: 80, protocol: 'TCP', timeoutMs: 1000 });
      const cells = Object.values(m.allowed).flatMap((row) => Object.values(row));
      assert.ok(cells.length === 12 && cells.every(Boolean), `pod matrix: ${JSON.stringify(m.allowed)}`);
    });
    const ex = await cli(['policy', 'explain', 'router-less', 'node/node-1', '--port', '22']);
    assert.notEqual(ex.code, 0); // not an endpoint: a clear error
    const ex2 = await cli(['policy', 'explain', 'x/a', 'node/node-1', '--port', '22']);
    assert.match(ex2.stdout, /ALLOWED/);
    assert.match(ex2.stdout, /failsafe inbound 6:22/);
  });

  test('a host port open only to a GlobalNetworkSet', async () => {
    await apply(
      `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: trusted, labels: {trust: "yes"}}\nspec: {nets: ["${podIp('x/a')}/32"]}\n` +
        `---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: host-8080}\nspec:\n  order: 10\n  selector: role == 'node'\n  ingress: [{action: Allow, protocol: TCP, source: {selector: trust == 'yes'}, destination: {ports: [8080]}}]\n`,
    );
    await expectFlows([
      ['x/a', 'node/node-1', 8080, true],
      ['x/c', 'node/node-1', 8080, false],
      ['router/r1', 'node/node-1', 8080, false],
    ]);
    const ex = await cli(['policy', 'explain', 'x/a', 'node/node-1', '--port', '8080']);
    assert.match(ex.stdout, /policy "host-8080", rule 0 \(Allow\)/);
    const ex2 = await cli(['policy', 'explain', 'x/c', 'node/node-1', '--port', '8080']);
    assert.match(ex2.stdout, /DENIED/);
  });

  test('preDNAT: a Deny on a DNAT-ed node port; the pod port itself stays open', async () => {
    const r = await cli(['lab', 'nodeport', 'node-1', '--port', '30080', '--to', 'x/b:80']);
    assert.equal(r.code, 0, r.stderr);
    const node1 = lab()
      .nodes.find((x) => x.name === 'node-1')!
      .ips[0]!.split('/')[0]!;
    await expectFlows([['x/c', node1, 30080, true]]);
    await apply(
      `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: pre-deny}\nspec:\n  order: 1\n  selector: role == 'node'\n  preDNAT: true\n  applyOnForward: true\n` +
        `  ingress: [{action: Deny, protocol: TCP, source: {nets: ["${podIp('x/c')}/32"]}, destination: {ports: [30080]}}]\n`,
    );
    await expectFlows([
      ['x/c', node1, 30080, false],
      ['x/a', node1, 30080, true],
      ['x/c', 'x/b', 80, true],
    ]);
  });

  test('doNotTrack: an untracked flow leaves no conntrack entry', async () => {
    await apply(
      `apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: node-1-ip, labels: {role: node, dnt: "yes"}}\nspec: {node: node-1, expectedIPs: ["${lab().nodes[0]!.ips[0]!.split('/')[0]}"]}\n` +
        `---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: untracked-8081}\nspec:\n  order: 1\n  selector: dnt == 'yes'\n  doNotTrack: true\n  applyOnForward: true\n` +
        `  ingress: [{action: Allow, protocol: TCP, destination: {ports: [8081]}}]\n  egress: [{action: Allow, protocol: TCP, source: {ports: [8081]}}]\n`,
    );
    await expectFlows([['x/a', 'node/node-1', 8081, true]]);
    await run(['conntrack', '-F'], { netns: netns('node-1'), check: false });
    assert.equal(await can('x/a', 'node/node-1', 8081), true);
    assert.equal(await can('x/a', 'node/node-1', 8080), true);
    const ct =
      (await run(['conntrack', '-L'], { netns: netns('node-1'), check: false })).stdout +
      (await run(['conntrack', '-L'], { netns: netns('node-1'), check: false })).stderr;
    assert.doesNotMatch(ct, /dport=8081/, 'the untracked flow has a conntrack entry');
    assert.match(ct, /dport=8080/, 'the tracked flow has no conntrack entry (is conntrack -L working?)');
  });

  test('applyOnForward: a forwarded flow is blocked only when the policy has it', async () => {
    const policy = (aof: boolean) =>
      `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: fwd-80}\nspec:\n  order: 3\n  selector: role == 'node'\n  applyOnForward: ${aof}\n  ingress: [{action: Deny, protocol: TCP, destination: {ports: [80]}}]\n`;
    await apply(policy(false));
    await expectFlows([['x/a', 'x/b', 80, true]]);
    await apply(policy(true));
    await expectFlows([['x/a', 'x/b', 80, false]]);
    const ex = await cli(['policy', 'explain', 'x/a', 'x/b', '--port', '80']);
    assert.match(ex.stdout, /forward \(forwarded in through node-1's host endpoint\): DENY/);
    await del('globalnetworkpolicy', 'fwd-80');
    await expectFlows([['x/a', 'x/b', 80, true]]);
  });

  test('failsafe ports from FelixConfiguration: {protocol, port, net}, and [] disables them', async () => {
    const routerIp = lab()
      .routers.find((r) => r.name === 'r1')!
      .ips[0]!.split('/')[0]!;
    await apply(
      `apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {name: default}\nspec:\n  failsafeInboundHostPorts: [{protocol: TCP, port: 8080, net: "${routerIp}/32"}]\n`,
    );
    await expectFlows([
      ['router/r1', 'node/node-1', 8080, true],
      ['router/r1', 'node/node-1', 22, false],
      ['x/c', 'node/node-1', 8080, false],
    ]);
    await apply(
      `apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {name: default}\nspec:\n  failsafeInboundHostPorts: []\n`,
    );
    await expectFlows([['router/r1', 'node/node-1', 8080, false]]);
    await del('felixconfiguration', 'default');
    await expectFlows([['router/r1', 'node/node-1', 22, true]]);
  });

  test('defaultEndpointToHostAction Drop, Accept, Return; the host reaches its own pods', async () => {
    // x/b runs on node-1: its traffic to node-1 is workload-to-host, not host endpoint ingress.
    await expectFlows([['x/b', 'node/node-1', 8081, false]]);
    for (const action of ['Accept', 'Return']) {
      await apply(
        `apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {name: default}\nspec: {defaultEndpointToHostAction: ${action}}\n`,
      );
      await expectFlows([['x/b', 'node/node-1', 8081, true]]);
    }
    await apply(
      `apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {name: default}\nspec: {defaultEndpointToHostAction: Drop}\n`,
    );
    await expectFlows([['x/b', 'node/node-1', 8081, false]]);
    // Host → its own pods is never policed; another host's egress policy still applies.
    await expectFlows([
      ['node/node-1', 'x/b', 80, true],
      ['node/node-2', 'x/b', 80, false],
    ]);
    await del('felixconfiguration', 'default');
  });

  test('<node>-auto-hep with the projectcalico-default-allow profile', async () => {
    await del('hostendpoint', 'node-3-all');
    await apply(
      `apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: node-3-auto-hep}\nspec: {node: node-3, interfaceName: "*", profiles: [projectcalico-default-allow]}\n`,
    );
    await expectFlows([['router/r1', 'node/node-3', 8080, true]]);
    // Labelled like the others, the deny-all policy selects it: policy first, the profile only after.
    await apply(
      `apiVersion: projectcalico.org/v3\nkind: HostEndpoint\nmetadata: {name: node-3-auto-hep, labels: {role: node}}\nspec: {node: node-3, interfaceName: "*", profiles: [projectcalico-default-allow]}\n`,
    );
    await expectFlows([['router/r1', 'node/node-3', 8080, false]]);
  });

  test('recovery: a flushed table is restored on resync; a stopped agent leaves the host reachable and protected', async () => {
    // The agent puts the table back at its next full resync, and on a busy machine that can come
    // before a probe of the open port gets through. So the proof that the flush took effect is
    // either that probe or the agent's own "nft drift repaired" report.
    const agentLog = join(lab().dir, 'logs', 'agent-node-1.log');
    const repairs = () => (readFileSync(agentLog, 'utf8').match(/nft drift repaired/g) ?? []).length;
    const repairsBefore = repairs();
    await run(['nft', 'flush', 'table', 'inet', 'tessera'], { netns: netns('node-1') });
    const opened = await can('router/r1', 'node/node-1', 8080);
    await expectFlows([['router/r1', 'node/node-1', 8080, false]], 30_000);
    if (!opened)
      await eventually(30_000, async () =>
        assert.ok(repairs() > repairsBefore, `the flush neither opened the port nor was repaired (${agentLog})`),
      );
    const stop = await cli(['lab', 'node', 'stop', 'node-1', '--keep-bird']);
    assert.equal(stop.code, 0, stop.stderr);
    await expectFlows([
      ['router/r1', 'node/node-1', 22, true],
      ['router/r1', 'node/node-1', 8080, false],
    ]);
    const start = await cli(['lab', 'node', 'start', 'node-1']);
    assert.equal(start.code, 0, start.stderr);
  });

  test('lab node unlisten stops the servers', async () => {
    const r = await cli(['lab', 'node', 'unlisten', 'node-1', '--ports', 'tcp:22']);
    assert.equal(r.code, 0, r.stderr);
    const p = await probePods(lab(), 'x/a', 'node/node-1', { port: 22, timeoutMs: 2000 });
    assert.equal(p.connected, false);
    assert.equal(p.error, 'ECONNREFUSED'); // failsafe still lets it in: nothing listens
  });
});
