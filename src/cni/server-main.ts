/**
 * Runs the CNI fast-path server on its own (until the node agent embeds `startCniServer`): used by
 * tests and `make bench-cni`, inside the node's network namespace.
 *   node dist/src/cni/server-main.js --socket PATH --etcd-endpoints URLS --node NAME
 * Prints "ready" on stdout once listening; SIGTERM closes it.
 */
import { parseArgs } from 'node:util';
import { EtcdBackend } from '../datastore/index.js';
import { IpamClient } from '../ipam/index.js';
import { startCniServer } from './server.js';

const { values } = parseArgs({
  options: {
    socket: { type: 'string' },
    'etcd-endpoints': { type: 'string' },
    node: { type: 'string' },
    /** Disable the IPAM per-host queue (tests prove correctness does not depend on it). */
    'no-host-queue': { type: 'boolean' },
  },
});
if (!values.socket || !values['etcd-endpoints'] || !values.node) {
  process.stderr.write('usage: server-main --socket PATH --etcd-endpoints URLS --node NAME\n');
  process.exit(2);
}
const backend = new EtcdBackend({ endpoints: values['etcd-endpoints'].split(',') });
const server = await startCniServer({
  socketPath: values.socket,
  backend,
  ipam: new IpamClient(backend, { serializePerHost: !values['no-host-queue'] }),
  nodeName: values.node,
});
process.stdout.write('ready\n');
const stop = async (): Promise<void> => {
  await server.close();
  await backend.close();
  process.exit(0);
};
process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
