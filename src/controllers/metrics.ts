/**
 * Prometheus metrics and the health endpoint of kube-controllers: /liveness, /readiness (leader:
 * every enabled controller has synced; standby: always ready), /metrics.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly leaksFound = new Counter({
    name: 'tessera_kube_controllers_ipam_leaks_found_total',
    help: 'IPAM allocations found with no Kubernetes pod (or node) behind them',
    registers: [this.registry],
  });
  readonly leaksReleased = new Counter({
    name: 'tessera_kube_controllers_ipam_leaks_released_total',
    help: 'Leaked IPAM allocations released after the grace period',
    registers: [this.registry],
  });
  readonly leaksPending = new Gauge({
    name: 'tessera_kube_controllers_ipam_leaks_pending',
    help: 'Leaked IPAM allocations still inside their grace period',
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'tessera_kube_controllers_queue_depth',
    help: "Keys waiting in a controller's work queue",
    labelNames: ['controller'],
    registers: [this.registry],
  });
  readonly synced = new Gauge({
    name: 'tessera_kube_controllers_synced',
    help: '1 once a controller has synced with the Kubernetes API and the datastore',
    labelNames: ['controller'],
    registers: [this.registry],
  });
  readonly writes = new Counter({
    name: 'tessera_kube_controllers_datastore_writes_total',
    help: 'Datastore writes (puts and deletes) by controller',
    labelNames: ['controller'],
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'tessera_kube_controllers_errors_total',
    help: 'Failed syncs of one key (retried with backoff)',
    labelNames: ['controller'],
    registers: [this.registry],
  });
  readonly invalid = new Counter({
    name: 'tessera_kube_controllers_invalid_resources_total',
    help: "Kubernetes objects Tessera's validator rejected (not mirrored)",
    labelNames: ['controller', 'kind'],
    registers: [this.registry],
  });
  readonly watchErrors = new Counter({
    name: 'tessera_kube_controllers_watch_errors_total',
    help: 'List/watch failures (restarted with backoff)',
    labelNames: ['resource'],
    registers: [this.registry],
  });
  readonly isLeader = new Gauge({
    name: 'tessera_kube_controllers_is_leader',
    help: '1 while this replica holds the leader lease',
    registers: [this.registry],
  });

  constructor(withProcessMetrics = true) {
    if (withProcessMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'tessera_kube_controllers_' });
  }
}

export interface HealthSource {
  live(): boolean;
  ready(): boolean;
  status(): unknown;
}

export async function startHealthServer(
  host: string,
  port: number,
  metrics: ControllerMetrics,
  health: HealthSource,
): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/metrics') {
      metrics.registry.metrics().then(
        (body) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(body);
        },
        (err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        },
      );
      return;
    }
    const ok =
      url === '/liveness'
        ? health.live()
        : url === '/readiness'
          ? health.ready()
          : url === '/status'
            ? true
            : undefined;
    if (ok === undefined) {
      res.writeHead(404);
      res.end('not found\n');
      return;
    }
    res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
    res.end(`${JSON.stringify(url === '/status' ? health.status() : { ok })}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  return { server, port: typeof addr === 'object' && addr ? addr.port : port };
}
