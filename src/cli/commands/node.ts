/**
 * `tessera node status [NODE]`: calicoctl's BGP peer table.
 *  - with NODE: reads the CalicoNodeStatus the node's agent publishes (named after the node, or
 *    any whose spec.node is NODE) from the datastore;
 *  - without NODE: asks the local BIRD through its control socket (--bird-socket, env
 *    TESSERA_BIRD_SOCKET, or <TESSERA_STATE_DIR or /run/tessera>/bird/bird.ctl).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { lookupKind } from '../../api/index.js';
import type { Resource } from '../../api/index.js';
import {
  birdPaths,
  formatPeerTable,
  parseBirdProtocols,
  parseBirdStatus,
  peersFromCalicoNodeStatus,
  type PeerStatus,
} from '../../bgp/index.js';
import { ResourceStore, type Backend } from '../../datastore/index.js';
import { readCliConfig } from '../../lib/context.js';
import { labDir } from '../../lab/index.js';
import { TesseraError } from '../../lib/errors.js';
import { run } from '../../lib/exec.js';
import type { VerbDeps } from '../io.js';

export interface NodeStatusDeps {
  out(s: string): void;
  env: NodeJS.ProcessEnv;
  /** Finds the node's published status (the datastore in the binary). */
  readStatus(node: string): Promise<Resource | undefined>;
  /** Runs birdc against a socket; undefined when BIRD does not answer. */
  birdc(socket: string, ...args: string[]): Promise<string | undefined>;
  /** The BIRD control sockets of the current context's lab, one per node (none outside a lab). */
  labBirdSockets?(): { lab: string; node: string; socket: string }[];
}

export function defaultBirdSocket(env: NodeJS.ProcessEnv): string {
  return birdPaths(env.TESSERA_STATE_DIR || '/run/tessera').socket;
}

export async function nodeStatusVerb(
  args: { node?: string; birdSocket?: string; output?: string },
  deps: NodeStatusDeps,
): Promise<number> {
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
      // On a lab host there is no local BIRD: each lab node runs its own. Say where they are.
      const lab = args.birdSocket || deps.env.TESSERA_BIRD_SOCKET ? [] : (deps.labBirdSockets?.() ?? []);
      const hint = lab.length
        ? `; lab "${lab[0]!.lab}" runs one BIRD per node: give NODE (e.g. \`tessera node status ${lab[0]!.node}\`) or --bird-socket ${lab
            .map((l) => `${l.socket} (${l.node})`)
            .join(', ')}`
        : ' (give NODE to read the datastore, or --bird-socket)';
      throw new TesseraError('unavailable', `cannot reach BIRD on "${socket}": not running on a BGP node?${hint}`);
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

async function readStatusFromDatastore(backend: Backend, node: string): Promise<Resource | undefined> {
  const store = new ResourceStore(backend);
  const info = lookupKind('CalicoNodeStatus')!;
  const named = await store.get(info, node);
  if (named) return named;
  return (await store.list(info)).find((r) => (r.spec as Record<string, unknown> | undefined)?.node === node);
}

/** The current (or --context) context's lab nodes' BIRD sockets that exist. */
function labBirdSockets(
  context: string | undefined,
  env: NodeJS.ProcessEnv,
): { lab: string; node: string; socket: string }[] {
  try {
    const cfg = readCliConfig(env);
    const name = context ?? cfg.currentContext;
    const lab = name ? cfg.contexts[name]?.lab : undefined;
    if (!lab) return [];
    const nodesDir = join(labDir(lab, env), 'nodes');
    return readdirSync(nodesDir)
      .sort()
      .map((node) => ({ lab, node, socket: birdPaths(join(nodesDir, node)).socket }))
      .filter((l) => existsSync(l.socket));
  } catch {
    return [];
  }
}

export interface NodeStatusArgs {
  node?: string | undefined;
  birdSocket?: string | undefined;
  output?: string | undefined;
  /** The global --context, whose lab's BIRD sockets an error names. */
  context?: string | undefined;
}

/** `tessera node status [NODE]`: the CLI's verb (program.ts maps argv onto `args`). */
export async function nodeStatusCliVerb(args: NodeStatusArgs, deps: VerbDeps): Promise<number> {
  const env = deps.env;
  // Errors propagate to runCli, which prints them like every other verb's (one line, exit 1).
  return nodeStatusVerb(
    {
      ...(args.node ? { node: args.node } : {}),
      ...(args.birdSocket ? { birdSocket: args.birdSocket } : {}),
      ...(args.output ? { output: args.output } : {}),
    },
    {
      out: (s) => deps.io.out(s),
      env,
      readStatus: async (n) => readStatusFromDatastore(await deps.backend(), n),
      labBirdSockets: () => labBirdSockets(args.context, env),
      birdc: async (socket, ...birdArgs) => {
        if (!existsSync(socket)) return undefined;
        const r = await run(['birdc', '-s', socket, ...birdArgs], { check: false, timeoutMs: 5000 });
        return r.code === 0 && r.stdout.includes('BIRD') ? r.stdout : undefined;
      },
    },
  );
}
