import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildWorkloadEndpoint, podInfoFrom } from './wep.js';

const pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web-1', namespace: 'shop', labels: { app: 'web' } },
  spec: {
    serviceAccountName: 'frontend',
    containers: [
      {
        ports: [
          { name: 'http', containerPort: 8080 },
          { containerPort: 9000 },
          { name: 'dns', containerPort: 53, protocol: 'UDP' },
        ],
      },
    ],
  },
};

test('k8s WEP: labels, profiles, named ports, Calico name', () => {
  const info = podInfoFrom(pod, 'shop', 'web-1');
  const wep = buildWorkloadEndpoint({
    node: 'node-a',
    containerId: 'c1',
    endpoint: 'eth0',
    hostIf: 'tsrabc',
    mac: '02:00:00:00:00:01',
    ipNetworks: ['10.0.0.5/32'],
    pod: info,
  });
  assert.equal(wep.metadata.name, 'node--a-k8s-web--1-eth0');
  assert.equal(wep.metadata.namespace, 'shop');
  assert.deepEqual(wep.metadata.labels, {
    app: 'web',
    'projectcalico.org/namespace': 'shop',
    'projectcalico.org/orchestrator': 'k8s',
    'projectcalico.org/serviceaccount': 'frontend',
  });
  assert.deepEqual(wep.spec?.profiles, ['kns.shop', 'ksa.shop.frontend']);
  assert.deepEqual(wep.spec?.ports, [
    { name: 'http', protocol: 'TCP', port: 8080 },
    { name: 'dns', protocol: 'UDP', port: 53 },
  ]);
  assert.equal(wep.spec?.orchestrator, 'k8s');
  assert.equal(wep.spec?.pod, 'web-1');
  assert.equal(wep.spec?.containerID, 'c1');
  assert.equal(wep.spec?.interfaceName, 'tsrabc');
});

test('plain CNI workload WEP is keyed by container ID', () => {
  const wep = buildWorkloadEndpoint({
    node: 'n1',
    containerId: 'deadbeef',
    endpoint: 'eth0',
    hostIf: 'tsr1',
    mac: 'm',
    ipNetworks: ['10.0.0.6/32'],
  });
  assert.equal(wep.metadata.name, 'n1-cni-deadbeef-eth0');
  assert.equal(wep.spec?.orchestrator, 'cni');
  assert.equal(wep.metadata.labels?.['projectcalico.org/orchestrator'], 'cni');
  assert.equal(wep.spec?.pod, undefined);
});
