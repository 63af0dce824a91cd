/**
 * `tessera-node`: the per-node agent. Runs inside the node's network namespace.
 *
 *   tessera-node --node-name N --etcd-endpoints URL[,URL] --state-dir DIR
 *                [--health-listen 127.0.0.1:9099] [--ip-autodetection first-found]
 *                [--routing agent|bgp] [--interface-prefix tsr] [--resync-interval-ms 10000]
 *
 * Every flag can also come from the environment (TESSERA_NODE_NAME, TESSERA_ETCD_ENDPOINTS,
 * TESSERA_STATE_DIR, TESSERA_HEALTH_LISTEN, IP_AUTODETECTION_METHOD, TESSERA_ROUTING).
 */
import { Command, InvalidArgumentError } from 'commander';
import pino from 'pino';
import { describeError, isTesseraError } from '../lib/errors.js';
import { DEFAULT_INTERFACE_PREFIX } from '../lib/marks.js';
import { openBackend } from '../datastore/index.js';
import { NftSession } from '../dataplane/nft/index.js';
import { Agent } from './agent.js';
import { parseAutodetectMethod } from './autodetect.js';
import { defaultDrivers, defaultServices } from './wiring.js';

const program = new Command('tessera-node')
  .description('Tessera node agent: routes, VXLAN, policy and BGP for one node')
  .option('--node-name <name>', "this node's name", process.env.TESSERA_NODE_NAME)
  .option('--etcd-endpoints <urls>', 'comma-separated etcd endpoints', process.env.TESSERA_ETCD_ENDPOINTS)
  .option('--etcd-ca-file <path>', 'etcd CA certificate', process.env.TESSERA_ETCD_CA_FILE)
  .option('--etcd-cert-file <path>', 'etcd client certificate', process.env.TESSERA_ETCD_CERT_FILE)
  .option('--etcd-key-file <path>', 'etcd client key', process.env.TESSERA_ETCD_KEY_FILE)
  .option(
    '--state-dir <dir>',
    'state directory (mtu file, CNI socket, status)',
    process.env.TESSERA_STATE_DIR ?? '/run/tessera',
  )
  .option(
    '--health-listen <addr>',
    'host:port for /liveness /readiness /metrics',
    process.env.TESSERA_HEALTH_LISTEN ?? '127.0.0.1:9099',
  )
  .option(
    '--ip-autodetection <method>',
    'first-found | interface=REGEX | can-reach=IP | cidr=CIDR',
    process.env.IP_AUTODETECTION_METHOD ?? 'first-found',
  )
  .option(
    '--ip6-autodetection <method>',
    'IPv6 node address: first-found | interface=REGEX | can-reach=IP | cidr=CIDR',
    process.env.IP6_AUTODETECTION_METHOD ?? 'first-found',
  )
  .option(
    '--routing <mode>',
    'agent | bgp',
    (v) => {
      if (v !== 'agent' && v !== 'bgp') throw new InvalidArgumentError('expected "agent" or "bgp"');
      return v;
    },
    process.env.TESSERA_ROUTING ?? 'agent',
  )
  .option('--interface-prefix <prefix>', 'workload interface prefix', DEFAULT_INTERFACE_PREFIX)
  .option(
    '--conntrack-tcp-be-liberal <bool>',
    'set net.netfilter.nf_conntrack_tcp_be_liberal=1: out-of-window TCP is not INVALID (env TESSERA_CONNTRACK_TCP_BE_LIBERAL)',
    (v) => {
      if (v !== 'true' && v !== 'false') throw new InvalidArgumentError('expected "true" or "false"');
      return v === 'true';
    },
    (process.env.TESSERA_CONNTRACK_TCP_BE_LIBERAL ?? 'true') !== 'false',
  )
  .option('--resync-interval-ms <ms>', 'periodic full resync, ms (env TESSERA_RESYNC_INTERVAL_MS)', (v) =>
    resyncMs(v, '--resync-interval-ms'),
  )
  .option('--log-level <level>', 'trace|debug|info|warn|error', process.env.TESSERA_LOG_LEVEL ?? 'info')
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

/** Whole milliseconds, at least 1 s: a resync re-reads every route, FDB and neighbour entry. */
function resyncMs(v: string, what: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1000) {
    if (what.startsWith('--')) throw new InvalidArgumentError('expected whole milliseconds >= 1000');
    usage(`${what}: expected whole milliseconds >= 1000, got "${v}"`);
  }
  return n;
}

async function main(): Promise<void> {
  program.parse();
  const o = program.opts<{
    nodeName?: string;
    etcdEndpoints?: string;
    etcdCaFile?: string;
    etcdCertFile?: string;
    etcdKeyFile?: string;
    stateDir: string;
    healthListen: string;
    ipAutodetection: string;
    ip6Autodetection: string;
    routing: 'agent' | 'bgp';
    interfacePrefix: string;
    conntrackTcpBeLiberal: boolean;
    resyncIntervalMs?: number;
    logLevel: string;
  }>();
  const envResync = process.env.TESSERA_RESYNC_INTERVAL_MS;
  const resyncIntervalMs =
    o.resyncIntervalMs ?? (envResync ? resyncMs(envResync, 'TESSERA_RESYNC_INTERVAL_MS') : 10_000);
  const logger = pino({ level: o.logLevel, base: { node: o.nodeName } }, pino.destination(2));
  if (!o.nodeName) usage('--node-name (or TESSERA_NODE_NAME) is required');
  if (!o.etcdEndpoints) usage('--etcd-endpoints (or TESSERA_ETCD_ENDPOINTS) is required');
  const backend = openBackend({
    endpoints: o
      .etcdEndpoints!.split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    tls:
      o.etcdCaFile || o.etcdCertFile
        ? { caFile: o.etcdCaFile, certFile: o.etcdCertFile, keyFile: o.etcdKeyFile }
        : undefined,
  });
  const agentOptions = {
    nodeName: o.nodeName!,
    backend,
    stateDir: o.stateDir,
    logger,
    ipv4Autodetection: parseAutodetectMethod(o.ipAutodetection),
    ipv6Autodetection: parseAutodetectMethod(o.ip6Autodetection),
    healthListen: o.healthListen,
    interfacePrefix: o.interfacePrefix,
    conntrackTcpBeLiberal: o.conntrackTcpBeLiberal,
    routing: o.routing,
    resyncIntervalMs,
    // One libnftables helper for both of the agent's tables (policy and NAT).
    nft: new NftSession(),
  };
  const drivers = defaultDrivers(agentOptions);
  const agent = new Agent({
    ...agentOptions,
    drivers: drivers.all,
    services: defaultServices(agentOptions, drivers),
  });
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ sig }, 'stopping (kernel state is left in place for the next agent)');
    agent
      .stop()
      .then(() => {
        agentOptions.nft.close();
        return backend.close();
      })
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Startup retries: the datastore may come up after us; keep trying with backoff rather than
  // crash-looping, and say why.
  for (let attempt = 1; ; attempt++) {
    try {
      await agent.start();
      return;
    } catch (e) {
      if (isTesseraError(e, 'validation') || isTesseraError(e, 'bug')) throw e;
      const delay = Math.min(5000, 200 * attempt);
      logger.error({ err: describeError(e), attempt, retryInMs: delay }, 'agent start failed; retrying');
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

function usage(msg: string): never {
  process.stderr.write(`tessera-node: ${msg}\n`);
  process.exit(2);
}

main().catch((e: unknown) => {
  process.stderr.write(`tessera-node: ${describeError(e)}\n`);
  process.exit(1);
});
