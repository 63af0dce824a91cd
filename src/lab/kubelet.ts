/**
 * The lab's kubelet stand-in, as a root-netns daemon (`lab up` starts it with the API):
 *   kubelet.ts --dir <labdir> --url <api url>
 * It does the one thing of a kubelet the lab needs beyond `lab pod create`: when a Pod is deleted
 * through the API (`kubectl delete pod`, a namespace deletion), it tears the lab pod down (servers,
 * CNI DEL, netns, pod file), as a kubelet runs CNI DEL for a deleted pod.
 * Loop: list pods (reconcile: a ready lab pod missing from the API goes), then watch from the list's
 * resourceVersion; any end of the stream (410, error, timeout) goes back to the list.
 */
import { readLabState, readPods } from './store.js';
import { podDelete } from './pods.js';

function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  if (!v) throw new Error(`kubelet: --${name} is required`);
  return v;
}

const dir = arg('dir');
const url = arg('url');
const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);

async function teardown(namespace: string, name: string, uid: string | undefined): Promise<void> {
  const state = readLabState(dir);
  if (!state) return;
  const pod = readPods(dir).find((p) => p.namespace === namespace && p.name === name);
  // `creating`: lab pod create is still at work (its Pod may not be in the API yet);
  // `deleting`: lab pod delete is already tearing it down. Pods that never were in the API
  // (hand-wired, or made before it ran) have no kubeUid and are not the kubelet's; a uid
  // mismatch is the delete of an older Pod of the same name.
  if (!pod || pod.phase !== 'ready' || !pod.kubeUid) return;
  if (uid !== undefined && uid !== pod.kubeUid) return;
  try {
    await podDelete(state, `${namespace}/${name}`);
    log(`pod ${namespace}/${name} deleted through the API: torn down (CNI DEL)`);
  } catch (err) {
    log(`pod ${namespace}/${name}: teardown failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}

async function cycle(): Promise<void> {
  const res = await fetch(`${url}/api/v1/pods`);
  if (!res.ok) throw new Error(`list pods: HTTP ${res.status}`);
  const list = (await res.json()) as {
    metadata: { resourceVersion: string };
    items: { metadata: { namespace: string; name: string; uid: string } }[];
  };
  const live = new Set(list.items.map((p) => p.metadata.uid));
  for (const p of readPods(dir)) if (p.kubeUid && !live.has(p.kubeUid)) await teardown(p.namespace, p.name, p.kubeUid);
  const watch = await fetch(
    `${url}/api/v1/pods?watch=true&resourceVersion=${list.metadata.resourceVersion}&timeoutSeconds=300`,
  );
  if (!watch.ok || !watch.body) throw new Error(`watch pods: HTTP ${watch.status}`);
  let buf = '';
  const decoder = new TextDecoder();
  for await (const chunk of watch.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      const ev = JSON.parse(line) as {
        type: string;
        object: { metadata?: { namespace?: string; name?: string; uid?: string } };
      };
      if (ev.type === 'ERROR') return; // 410 and friends: relist
      if (ev.type === 'DELETED' && ev.object.metadata?.namespace && ev.object.metadata.name) {
        await teardown(ev.object.metadata.namespace, ev.object.metadata.name, ev.object.metadata.uid);
      }
    }
  }
}

async function main(): Promise<void> {
  let stop = false;
  process.on('SIGTERM', () => {
    stop = true;
    process.exit(0);
  });
  while (!stop) {
    try {
      await cycle();
    } catch (err) {
      log(`kubelet: ${err instanceof Error ? err.message : String(err)}; retrying`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

void main();
