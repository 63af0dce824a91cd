/**
 * deploy/kubernetes/tessera.yaml: every document validates against the Kubernetes OpenAPI schemas
 * (the `kubernetes-models` npm package, generated from Kubernetes' own OpenAPI spec), and the
 * kube-controllers' RBAC grants exactly the calls in KUBE_RESOURCES (the table the informers are
 * built from) and KUBE_WRITES (Events).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { KUBE_RESOURCES, KUBE_WRITES } from './kube-api.js';

const path = new URL('../../deploy/kubernetes/tessera.yaml', import.meta.url);
type Doc = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: unknown };
const docs = parseAllDocuments(readFileSync(path, 'utf8')).map((d) => d.toJSON() as Doc);

async function validateDoc(doc: Doc): Promise<void> {
  const [group, version] = doc.apiVersion.includes('/') ? doc.apiVersion.split('/') : ['', doc.apiVersion];
  const mod = (await import(`kubernetes-models/${group ? `${group}/` : ''}${version}/${doc.kind}`)) as Record<
    string,
    new (d: unknown) => { validate(): void }
  >;
  const Model =
    mod[doc.kind] ?? (mod.default as unknown as Record<string, new (d: unknown) => { validate(): void }>)?.[doc.kind];
  assert.ok(Model, `no schema for ${doc.apiVersion} ${doc.kind}`);
  new Model(doc).validate();
}

describe('deploy/kubernetes/tessera.yaml', () => {
  it('every document validates against the Kubernetes OpenAPI schema', async () => {
    assert.ok(docs.length >= 9);
    for (const d of docs) await validateDoc(d);
    const kinds = docs.map((d) => d.kind);
    for (const k of ['DaemonSet', 'Deployment', 'ConfigMap', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding'])
      assert.ok(kinds.includes(k), k);
  });

  it('the schema check is real: a broken document fails', async () => {
    const ds = structuredClone(docs.find((d) => d.kind === 'DaemonSet')!) as Doc & {
      spec: { template: { spec: { containers: { name: unknown }[] } } };
    };
    ds.spec.template.spec.containers[0]!.name = 42;
    await assert.rejects(validateDoc(ds), /name must be string/);
  });

  it('the kube-controllers ClusterRole grants exactly the API calls the controllers make', () => {
    const role = docs.find((d) => d.kind === 'ClusterRole' && d.metadata.name === 'tessera-kube-controllers') as Doc & {
      rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    };
    const granted = new Set<string>();
    for (const r of role.rules)
      for (const g of r.apiGroups)
        for (const res of r.resources) for (const v of r.verbs) granted.add(`${g}|${res}|${v}`);
    const used = new Set<string>();
    for (const d of [...Object.values(KUBE_RESOURCES), ...KUBE_WRITES])
      for (const v of d.verbs) used.add(`${d.group}|${d.resource}|${v}`);
    assert.deepEqual([...granted].sort(), [...used].sort());
    const binding = docs.find(
      (d) => d.kind === 'ClusterRoleBinding' && d.metadata.name === 'tessera-kube-controllers',
    ) as Doc & { subjects: { name: string }[]; roleRef: { name: string } };
    assert.equal(binding.roleRef.name, 'tessera-kube-controllers');
    const deploy = docs.find((d) => d.kind === 'Deployment') as Doc & {
      spec: { template: { spec: { serviceAccountName: string } } };
    };
    assert.deepEqual(
      binding.subjects.map((s) => s.name),
      [deploy.spec.template.spec.serviceAccountName],
    );
  });

  it('the DaemonSet installs both plugins and the CNI config (install-cni), from the ConfigMap', () => {
    const ds = docs.find((d) => d.kind === 'DaemonSet') as Doc & {
      spec: { template: { spec: { initContainers: { args: string[]; env: { name: string }[] }[] } } };
    };
    const init = ds.spec.template.spec.initContainers[0]!;
    const script = init.args.join('\n');
    assert.match(script, /tessera-cni tessera-ipam/);
    assert.match(script, /10-tessera\.conflist/);
    assert.deepEqual(init.env.map((e) => e.name).sort(), ['CNI_MTU', 'CNI_NETWORK_CONFIG', 'ETCD_ENDPOINTS']);
    const cm = docs.find((d) => d.kind === 'ConfigMap') as Doc & { data: Record<string, string> };
    assert.ok(cm.data.etcd_endpoints && cm.data.pool_cidr);
    const conf = JSON.parse(cm.data.cni_network_config!.replace('__CNI_MTU__', '1450')) as {
      plugins: { type: string; ipam?: { type: string } }[];
    };
    assert.equal(conf.plugins[0]!.type, 'tessera-cni');
    assert.equal(conf.plugins[0]!.ipam?.type, 'tessera-ipam');
  });
});
