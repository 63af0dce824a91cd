import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { AgentMetrics, startHealthServer } from './health.js';

test('liveness, readiness, status and metrics answer as the agent state says', async () => {
  let live = true;
  let ready = false;
  const metrics = new AgentMetrics(['routes', 'policy']);
  const server = await startHealthServer(
    '127.0.0.1:0',
    { live: () => live, ready: () => ready, status: () => ({ node: 'n1', ready }) },
    metrics,
  );
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const get = async (path: string) => {
    const r = await fetch(`${base}${path}`);
    return { code: r.status, body: await r.text(), type: r.headers.get('content-type') ?? '' };
  };
  try {
    assert.equal((await get('/liveness')).code, 200);
    assert.equal((await get('/readiness')).code, 503);
    ready = true;
    assert.equal((await get('/readiness')).code, 200);
    live = false;
    assert.equal((await get('/liveness')).code, 503);
    const st = await get('/status');
    assert.match(st.type, /application\/json/);
    assert.deepEqual(JSON.parse(st.body), { node: 'n1', ready: true });
    assert.equal((await get('/nope')).code, 404);

    metrics.applySeconds.observe({ dataplane: 'routes' }, 0.02);
    metrics.localEndpoints.set(3);
    metrics.routes.set(7);
    const m = await get('/metrics');
    assert.equal(m.code, 200);
    assert.match(m.type, /text\/plain/);
    // The series a dashboard needs exist from the start, failures and drift repairs at 0.
    for (const line of [
      'tessera_agent_apply_seconds_count{dataplane="routes"} 1',
      'tessera_agent_apply_failures_total{dataplane="routes"} 0',
      'tessera_agent_apply_failures_total{dataplane="policy"} 0',
      'tessera_agent_local_endpoints 3',
      'tessera_agent_routes 7',
      'tessera_agent_drift_repairs_total{trigger="monitor"} 0',
      'tessera_agent_drift_repairs_total{trigger="resync"} 0',
    ]) {
      assert.ok(
        m.body.split('\n').includes(line),
        `missing "${line}" in:\n${m.body
          .split('\n')
          .filter((l) => l.startsWith('tessera_agent_a') || l.startsWith('tessera_agent_d'))
          .join('\n')}`,
      );
    }
    assert.match(m.body, /^tessera_agent_process_resident_memory_bytes \d+/m);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('a busy health port is an error, not a silent agent without health', async () => {
  const metrics = new AgentMetrics();
  const first = await startHealthServer(
    '127.0.0.1:0',
    { live: () => true, ready: () => true, status: () => ({}) },
    metrics,
  );
  try {
    const port = (first.address() as AddressInfo).port;
    await assert.rejects(
      startHealthServer(
        `127.0.0.1:${port}`,
        { live: () => true, ready: () => true, status: () => ({}) },
        new AgentMetrics(),
      ),
      /EADDRINUSE/,
    );
  } finally {
    await new Promise((r) => first.close(r));
  }
});
