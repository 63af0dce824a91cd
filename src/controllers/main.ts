/**
 * `tessera-kube-controllers`: one per cluster (a Deployment). Watches the Kubernetes API and
 * writes Tessera's datastore; only the replica holding the leader lease acts.
 *
 *   tessera-kube-controllers --etcd-endpoints URL[,URL] [--kubeconfig FILE]
 *                            [--health-listen 0.0.0.0:9094] [--identity NAME]
 *
 * Without --kubeconfig (or KUBECONFIG) it uses the in-cluster service account.
 */
import { hostname } from 'node:os';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { Command } from 'commander';
import pino from 'pino';
import { openBackend } from '../datastore/index.js';
import { describeError } from '../lib/errors.js';
import {
  KubeInformer,
  describeWatchError,
  kubeListFn,
  slimFor,
  type ControllerInformer,
  type WatchLike,
} from './informer.js';
import { KUBE_RESOURCES, type KubeResourceName } from './kube-api.js';
import { EventRecorder, kubeEventSink } from './events.js';
import { KubeControllers } from './manager.js';
import { ControllerMetrics, startHealthServer } from './metrics.js';

const program = new Command('tessera-kube-controllers')
  .description('Tessera kube-controllers: Kubernetes API → Tessera datastore, node cleanup, IPAM garbage collection')
  .option(
    '--etcd-endpoints <urls>',
    'comma-separated etcd endpoints',
    process.env.TESSERA_ETCD_ENDPOINTS ?? process.env.ETCD_ENDPOINTS,
  )
  .option('--etcd-ca-file <path>', 'etcd CA certificate', process.env.TESSERA_ETCD_CA_FILE)
  .option('--etcd-cert-file <path>', 'etcd client certificate', process.env.TESSERA_ETCD_CERT_FILE)
  .option('--etcd-key-file <path>', 'etcd client key', process.env.TESSERA_ETCD_KEY_FILE)
  .option('--kubeconfig <file>', 'kubeconfig (default: KUBECONFIG, then in-cluster)', process.env.KUBECONFIG)
  .option(
    '--health-listen <addr>',
    'host:port for /liveness /readiness /metrics /status',
    process.env.TESSERA_HEALTH_LISTEN ?? '0.0.0.0:9094',
  )
  .option(
    '--identity <name>',
    "this replica's name in the leader lease",
    process.env.POD_NAME ?? `${hostname()}-${process.pid}`,
  )
  .option('--log-level <level>', 'trace|debug|info|warn|error', process.env.TESSERA_LOG_LEVEL ?? 'info')
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

async function main(): Promise<void> {
  program.parse();
  const o = program.opts<{
    etcdEndpoints?: string;
    etcdCaFile?: string;
    etcdCertFile?: string;
    etcdKeyFile?: string;
    kubeconfig?: string;
    healthListen: string;
    identity: string;
    logLevel: string;
  }>();
  const logger = pino({ level: o.logLevel, base: { component: 'kube-controllers' } }, pino.destination(2));
  if (!o.etcdEndpoints) {
    console.error('tessera-kube-controllers: --etcd-endpoints (or TESSERA_ETCD_ENDPOINTS) is required');
    process.exit(2);
  }
  const m = /^(.*):(\d+)$/.exec(o.healthListen);
  if (!m) {
    console.error(`tessera-kube-controllers: --health-listen: expected host:port, got "${o.healthListen}"`);
    process.exit(2);
  }
  const kc = new KubeConfig();
  if (o.kubeconfig) kc.loadFromFile(o.kubeconfig);
  else kc.loadFromCluster();
  const backend = openBackend({
    endpoints: o.etcdEndpoints
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    ...(o.etcdCaFile || o.etcdCertFile || o.etcdKeyFile
      ? {
          tls: {
            ...(o.etcdCaFile ? { caFile: o.etcdCaFile } : {}),
            ...(o.etcdCertFile ? { certFile: o.etcdCertFile } : {}),
            ...(o.etcdKeyFile ? { keyFile: o.etcdKeyFile } : {}),
          },
        }
      : {}),
  });
  const metrics = new ControllerMetrics();
  const watch = new Watch(kc) as unknown as WatchLike;
  const informers = {} as Record<KubeResourceName, ControllerInformer>;
  for (const name of Object.keys(KUBE_RESOURCES) as KubeResourceName[]) {
    const def = KUBE_RESOURCES[name];
    informers[name] = new KubeInformer({
      resource: def,
      watch,
      list: await kubeListFn(kc, def),
      slim: slimFor(def.resource),
      onError: (err, retryInMs) => {
        metrics.watchErrors.inc({ resource: def.resource });
        logger.warn({ resource: def.resource, retryInMs, err: describeWatchError(err) }, 'list/watch failed; retrying');
      },
    });
  }
  const events = new EventRecorder(await kubeEventSink(kc), logger, o.identity, () =>
    metrics.errors.inc({ controller: 'events' }),
  );
  const kcs = new KubeControllers({ backend, informers, logger, identity: o.identity, metrics, events });
  const { port } = await startHealthServer(m[1]!, Number(m[2]), metrics, kcs);
  logger.info({ identity: o.identity, health: `${m[1]}:${port}` }, 'starting');
  // Informers run on every replica (a standby has warm caches); only the leader's controllers write.
  for (const i of Object.values(informers)) void i.start();
  kcs.start();
  const shutdown = async () => {
    logger.info('stopping');
    await kcs.stop();
    for (const i of Object.values(informers)) await i.stop();
    await backend.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown());
  process.once('SIGINT', () => void shutdown());
}

main().catch((err: unknown) => {
  console.error(`tessera-kube-controllers: ${describeError(err)}`);
  process.exit(1);
});
