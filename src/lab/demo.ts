/**
 * `tessera lab demo`: a 3-node lab, pods on every node, the connectivity matrix before and after a
 * Kubernetes NetworkPolicy, narrated. Without the CNI plugin built, pods are wired by hand; without
 * the agent, the policy is written but nothing enforces it (and the demo says so).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { sleep } from '../lib/clock.js';
import { K8S_NETWORKING_API_VERSION, type Resource } from '../api/index.js';
import { labDown, labUp } from './lab.js';
import { podCreate } from './pods.js';
import { handWirePod } from './handwire.js';
import { matrix } from './connectivity.js';
import { diffMatrices, formatMatrix, type MatrixResult } from './matrix.js';
import { LabDatastore } from './resources.js';
import { agentBinary } from './nodes.js';
import { kubectl, kubectlPath, LabKubeClient } from './kube.js';
import { writeFileSync } from 'node:fs';
import { stringify } from 'yaml';
import type { LabState } from './state.js';

export interface DemoOptions {
  name?: string;
  keep?: boolean;
  env?: NodeJS.ProcessEnv;
  out: (line: string) => void;
}

const PODS: { ref: string; node: string; labels: Record<string, string>; ip: string }[] = [
  { ref: 'shop/frontend', node: 'node-1', labels: { app: 'frontend', tier: 'web' }, ip: '10.244.1.10' },
  { ref: 'shop/backend', node: 'node-2', labels: { app: 'backend', tier: 'api' }, ip: '10.244.2.10' },
  { ref: 'shop/db', node: 'node-3', labels: { app: 'db', tier: 'data' }, ip: '10.244.3.10' },
  { ref: 'guest/visitor', node: 'node-1', labels: { app: 'visitor' }, ip: '10.244.1.11' },
];

export const DEMO_POLICY: Resource = {
  apiVersion: K8S_NETWORKING_API_VERSION,
  kind: 'NetworkPolicy',
  metadata: { name: 'db-from-backend', namespace: 'shop' },
  spec: {
    podSelector: { matchLabels: { app: 'db' } },
    policyTypes: ['Ingress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { app: 'backend' } } }], ports: [{ protocol: 'TCP', port: 80 }] }],
  },
};

export async function runDemo(o: DemoOptions): Promise<void> {
  const name = o.name ?? 'demo';
  const env = o.env ?? process.env;
  const say = o.out;
  say('== 1. A lab: 3 nodes (network namespaces) on one bridge, etcd, one agent per node');
  const s: LabState = await labUp({ name, nodes: 3 }, { env, onProgress: (l) => say(`   ${l}`) });
  try {
    // cniPath holds a symlink to bin/tessera-cni; existsSync follows it to the built launcher.
    const realCni = existsSync(join(s.cniPath, 'tessera-cni'));
    say('');
    say(
      `== 2. Four pods, spread over the nodes${realCni ? ' (CNI ADD by tessera-cni, as a container runtime does)' : ' (wired by hand: bin/tessera-cni is not built)'}`,
    );
    for (const p of PODS) {
      const pod = realCni
        ? await podCreate(s, p.ref, { node: p.node, labels: p.labels })
        : await handWirePod(s, p.ref, p.node, p.ip, { labels: p.labels });
      say(
        `   ${p.ref.padEnd(14)} on ${pod.node}  ${pod.ips.join(', ').padEnd(15)} labels ${Object.entries(p.labels)
          .map(([k, v]) => `${k}=${v}`)
          .join(',')}`,
      );
    }
    say('');
    say('== 3. Who can open TCP port 80 on whom?');
    const before = await matrix(s, { port: 80, protocol: 'TCP', timeoutMs: 1000 });
    say(indent(formatMatrix(before)));
    say('   No policy selects any pod yet, so every pod accepts everything (Kubernetes default: allow).');
    say('');
    say('== 4. Apply a NetworkPolicy: in namespace "shop", pods app=db accept TCP/80 only from app=backend');
    let policy: Resource = DEMO_POLICY;
    if (s.kube) {
      // The Kubernetes path: the policy goes to the (stand-in) Kubernetes API with kubectl.
      const file = join(s.dir, 'demo-networkpolicy.yaml');
      writeFileSync(file, stringify(DEMO_POLICY));
      const bin = await kubectlPath(env);
      say(`   $ export KUBECONFIG=${s.kube.kubeconfig}`);
      say(`   $ kubectl apply -f ${file}`);
      say(indent((await kubectl(s, ['apply', '-f', file], { kubectl: bin })).trimEnd()));
      say('   $ kubectl get pods -A -o wide');
      say(indent((await kubectl(s, ['get', 'pods', '-A', '-o', 'wide'], { kubectl: bin })).trimEnd()));
      const stored = await new LabKubeClient(s.kube.url).get(
        '/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies/db-from-backend',
        'read the demo policy back',
      );
      if (stored)
        policy = {
          apiVersion: K8S_NETWORKING_API_VERSION,
          kind: 'NetworkPolicy',
          metadata: { name: 'db-from-backend', namespace: 'shop' },
          spec: stored['spec'] as NonNullable<Resource['spec']>,
        };
    }
    if (!s.kube || s.kube.datastoreMirror) {
      // Until tessera-kube-controllers carries API objects into the datastore, the lab does it.
      const ds = new LabDatastore(s.etcd?.endpoints ?? []);
      try {
        await ds.put(policy);
      } finally {
        await ds.close();
      }
    }
    say('   kind: NetworkPolicy  podSelector: app=db  ingress: from podSelector app=backend, ports TCP/80');
    if (!agentBinary()) {
      say('   (bin/tessera-node is not built: no agent programs the policy, so the matrix will not change)');
    }
    const after = await waitForChange(s, before, agentBinary() ? 15_000 : 0);
    say('');
    say('== 5. The matrix again');
    say(indent(formatMatrix(after)));
    const changes = diffMatrices(before, after);
    if (changes.length === 0) {
      say(
        agentBinary()
          ? `   Nothing changed within 15 s: the agents did not program the policy (rerun with --keep and read ${join(s.dir, 'logs')}/agent-*.log).`
          : '   Nothing changed: there is no agent to program the policy.',
      );
    } else {
      for (const c of changes)
        say(`   ${c.from} -> ${c.to}: ${c.before ? 'connected' : 'blocked'} -> ${c.after ? 'connected' : 'blocked'}`);
      say('   Only connections INTO shop/db changed: the policy selects db, so db now drops ingress that no rule');
      say('   allows; backend is the one source the rule allows. Traffic between other pods is untouched.');
    }
  } finally {
    say('');
    if (o.keep) {
      say(
        `== Kept lab "${name}": try \`tessera lab matrix\`, \`tessera lab status\`; remove with \`tessera lab down --name ${name}\``,
      );
    } else {
      await labDown(name, { env });
      say(`== Lab "${name}" removed (namespaces, processes, files)`);
    }
  }
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `   ${l}`)
    .join('\n');
}

/** Policy programming is asynchronous: poll the matrix until it changes or time runs out. */
async function waitForChange(s: LabState, before: MatrixResult, timeoutMs: number): Promise<MatrixResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = await matrix(s, { port: 80, protocol: 'TCP', timeoutMs: 1000 });
    if (diffMatrices(before, m).length > 0 || Date.now() >= deadline) return m;
    await sleep(500);
  }
}
