import assert from 'node:assert/strict';
import { it } from 'node:test';
import { MemoryBackend } from '../../datastore/index.js';
import { IPAM_GC_PENDING_KEY } from '../../controllers/index.js';
import { ipamCheckVerb } from './ipam.js';

it('ipam check shows leaks kube-controllers will release after their grace period, without counting them as problems', async () => {
  const backend = new MemoryBackend();
  let out = '';
  const deps = { backend, out: (s: string) => void (out += s) };
  let report = await ipamCheckVerb({}, deps);
  assert.doesNotMatch(out, /awaiting/);
  await backend.put(
    IPAM_GC_PENDING_KEY,
    JSON.stringify({
      gracePeriodSeconds: 900,
      leaks: [
        {
          address: '10.0.0.7',
          handleId: 'k8s-pod-network.abc',
          sequenceNumber: 3,
          namespace: 'shop',
          pod: 'web',
          firstSeen: '2026-01-01T00:00:00.000Z',
          releaseAfter: '2026-01-01T00:15:00.000Z',
        },
      ],
    }),
  );
  out = '';
  report = await ipamCheckVerb({}, deps);
  assert.match(
    out,
    /Leaks awaiting kube-controllers GC \(grace period 900s\): 1\n  10\.0\.0\.7 handle=k8s-pod-network\.abc pod=shop\/web releaseAfter=2026-01-01T00:15:00\.000Z/,
  );
  assert.equal(report.problems, 0);
});
