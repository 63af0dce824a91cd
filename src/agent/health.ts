/**
 * Health and metrics endpoint: /liveness, /readiness, /metrics (Prometheus), /status (JSON).
 * Readiness means: in sync with the datastore and the dataplane programmed at least once since.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class AgentMetrics {
  readonly registry = new Registry();
  readonly applySeconds = new Histogram({
    name: 'tessera_agent_apply_seconds',
    help: 'Time to apply one dataplane cycle',
    labelNames: ['dataplane'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly applyFailures = new Counter({
    name: 'tessera_agent_apply_failures_total',
    help: 'Dataplane apply cycles that failed',
    labelNames: ['dataplane'],
    registers: [this.registry],
  });
  readonly localEndpoints = new Gauge({
    name: 'tessera_agent_local_endpoints',
    help: 'Workload endpoints on this node',
    registers: [this.registry],
  });
  readonly routes = new Gauge({
    name: 'tessera_agent_routes',
    help: 'Routes the agent programs',
    registers: [this.registry],
  });
  readonly datastoreUpdates = new Counter({
    name: 'tessera_agent_datastore_updates_total',
    help: 'Datastore updates received',
    registers: [this.registry],
  });
  readonly driftRepairs = new Counter({
    name: 'tessera_agent_drift_repairs_total',
    help: 'Kernel changes made to put back routes, VXLAN entries or NAT rules changed outside Tessera, by what noticed it (monitor: a route event; resync: the periodic full check)',
    labelNames: ['trigger'],
    registers: [this.registry],
  });
  readonly skippedResources = new Counter({
    name: 'tessera_agent_skipped_resources_total',
    help: 'Datastore items skipped because they could not be decoded',
    registers: [this.registry],
  });

  constructor(dataplanes: readonly string[] = ['routes']) {
    collectDefaultMetrics({ register: this.registry, prefix: 'tessera_agent_' });
    this.addDataplanes(dataplanes);
    for (const trigger of ['monitor', 'resync', 'update']) this.driftRepairs.inc({ trigger }, 0);
  }

  /** Per-dataplane series exist from the start (at 0), so dashboards and alerts see them before the first event. */
  addDataplanes(dataplanes: readonly string[]): void {
    for (const dataplane of dataplanes) this.applyFailures.inc({ dataplane }, 0);
  }
}

export interface HealthState {
  live(): boolean;
  ready(): boolean;
  status(): object;
}

export function startHealthServer(listen: string, state: HealthState, metrics: AgentMetrics): Promise<Server> {
  const [host, portText] = listen.includes(':')
    ? [listen.slice(0, listen.lastIndexOf(':')), listen.slice(listen.lastIndexOf(':') + 1)]
    : ['127.0.0.1', listen];
  const server = createServer((req, res) => {
    const send = (code: number, body: string, type = 'text/plain') => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    switch (req.url) {
      case '/liveness':
        return state.live() ? send(200, 'live\n') : send(503, 'not live\n');
      case '/readiness':
        return state.ready() ? send(200, 'ready\n') : send(503, 'not ready\n');
      case '/status':
        return send(200, `${JSON.stringify(state.status(), null, 2)}\n`, 'application/json');
      case '/metrics':
        metrics.registry.metrics().then(
          (m) => send(200, m, metrics.registry.contentType),
          (e: unknown) => send(500, String(e)),
        );
        return;
      default:
        return send(404, 'not found\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(portText), host, () => resolve(server));
  });
}
