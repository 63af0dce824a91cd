/**
 * `tessera node status [NODE]`: calicoctl's BGP peer table.
 *  - with NODE: reads the CalicoNodeStatus the node's agent publishes (named after the node, or
 *    any whose spec.node is NODE) from the datastore;
 *  - without NODE: asks the local BIRD through its control socket (--bird-socket, env
 *    TESSERA_BIRD_SOCKET, or <TESSERA_STATE_DIR or /run/tessera>/bird/bird.ctl).
 */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { lookupKind } from '../../api/index.js';
import type { Resource } from '../../api/index.js';
import { birdPaths, formatPeerTable, parseBirdProtocols, parseBirdStatus, peersFromCalicoNodeStatus, type PeerStatus } from '../../bgp/index.js';
import { openBackend, ResourceStore } from '../../datastore/index.js';
import { resolveDatastore } from '../../lib/context.js';
import { TesseraError } from '../../lib/errors.js';
import { run } from '../../lib/exec.js';

export interface NodeStatusDeps {
  out(s: string): void;
  env: NodeJS.ProcessEnv;
  /** Finds the node's published status (the datastore in the binary). */
  readStatus(node: string): Promise<Resource | undefined>;
  /** Runs birdc against a socket; undefined when BIRD does not answer. */
  birdc(socket: string, ...args: string[]): Promise<string | undefined>;
}

export function defaultBirdSocket(env: NodeJS.ProcessEnv): string {
  return birdPaths(env.TESSERA_STATE_DIR || '/run/tessera').socket;
}

export async function nodeStatusVerb(args: { node?: string; birdSocket?: string; output?: string }, deps: NodeStatusDeps): Promise<number> {
  let peers: PeerStatus[];
  let header: string;
  if (args.node) {
    const st = await deps.readStatus(args.node);
    if (!st) {
      throw new TesseraError(
        'not-found',
        `no BGP status for node "${args.node}": its agent has not published a CalicoNodeStatus (is it running with --routing bgp?)`,
      );
    }
    peers = peersFromCalicoNodeStatus(st.status);
    const updated = (st.status as Record<string, unknown> | undefined)?.lastUpdated;
    header = `Node "${args.node}" BGP status${typeof updated === 'string' ? ` (as of ${updated})` : ''}.`;
    if (args.output === 'json') {
      deps.out(`${JSON.stringify(st.status ?? {}, null, 2)}\n`);
      return 0;
    }
  } else {
    const socket = args.birdSocket || deps.env.TESSERA_BIRD_SOCKET || defaultBirdSocket(deps.env);
    const status = await deps.birdc(socket, 'show', 'status');
    if (status === undefined) {
      throw new TesseraError(
        'unavailable',
        `cannot reach BIRD on "${socket}": not running on a BGP node? (give NODE to read the datastore, or --bird-socket)`,
      );
    }
    const daemon = parseBirdStatus(status);
    peers = parseBirdProtocols((await deps.birdc(socket, 'show', 'protocols', 'all')) ?? '');
    header = `BIRD ${daemon.version ?? ''} is ${daemon.up ? 'running' : 'not ready'}${daemon.routerId ? ` (router id ${daemon.routerId})` : ''}.`;
    if (args.output === 'json') {
      deps.out(`${JSON.stringify({ daemon, peers }, null, 2)}\n`);
      return 0;
    }
  }
  const table = formatPeerTable(peers);
  deps.out(`${header}\n\n${table}${table.endsWith('\n') ? '' : '\n'}`);
  return 0;
}

async function readStatusFromDatastore(cmd: Command, node: string, env: NodeJS.ProcessEnv): Promise<Resource | undefined> {
  const g = cmd.optsWithGlobals<{ etcdEndpoints?: string; config?: string; context?: string }>();
  const ds = resolveDatastore({ etcdEndpoints: g.etcdEndpoints, config: g.config, context: g.context, env });
  const backend = openBackend({ ...ds, transport: 'http' });
  try {
    const store = new ResourceStore(backend);
    const info = lookupKind('CalicoNodeStatus')!;
    const named = await store.get(info, node);
    if (named) return named;
    return (await store.list(info)).find((r) => (r.spec as Record<string, unknown> | undefined)?.node === node);
  } finally {
    await backend.close();
  }
}

export function registerNode(program: Command): void {
  const node = program.command('node').description('node commands (BGP status)');
  node
    .command('status')
    .argument('[node]', 'read this node\'s published status from the datastore instead of the local BIRD')
    .option('--bird-socket <path>', 'local BIRD control socket (env TESSERA_BIRD_SOCKET)')
    .option('-o, --output <format>', 'table (default) or json', 'table')
    .description('show BGP sessions: PEER ADDRESS | PEER TYPE | STATE | SINCE | INFO')
    .action(async (nodeName: string | undefined, opts: { birdSocket?: string; output?: string }, cmd: Command) => {
      const env = process.env;
      // Errors propagate to runCli, which prints them like every other verb's (one line, exit 1).
      await nodeStatusVerb(
        { ...(nodeName ? { node: nodeName } : {}), ...(opts.birdSocket ? { birdSocket: opts.birdSocket } : {}), ...(opts.output ? { output: opts.output } : {}) },
        {
          out: (s) => process.stdout.write(s),
          env,
          readStatus: (n) => readStatusFromDatastore(cmd, n, env),
          birdc: async (socket, ...args) => {
            if (!existsSync(socket)) return undefined;
            const r = await run(['birdc', '-s', socket, ...args], { check: false, timeoutMs: 5000 });
            return r.code === 0 && r.stdout.includes('BIRD') ? r.stdout : undefined;
          },
        },
      );
    });
}
