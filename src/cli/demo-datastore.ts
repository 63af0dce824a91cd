/**
 * `tessera demo datastore`: a narrated tour of the resource API against a throwaway etcd.
 * Runs the real CLI code path (runCli with the etcd-backed store) for every step, so what it shows
 * is exactly what a user typing the same commands would see. etcd is always stopped, even when a
 * step fails.
 */
import { join } from 'node:path';
import { startEtcd } from '../lab/index.js';
import { TesseraError } from '../lib/errors.js';
import type { CliIO } from './io.js';
import { packageInfo } from './package-root.js';

/**
 * Runs one `tessera` command line against the real etcd-backed store and returns its exit code.
 * Handed in by program.ts (which owns runCli) so this file does not import the program that
 * registers it.
 */
export type DemoCliRunner = (argv: string[], io: CliIO) => Promise<number>;

export interface DatastoreDemoOptions {
  io: CliIO;
  runCli: DemoCliRunner;
  /** Directory of manifests to apply (default `<package>/examples/demo`). */
  examplesDir?: string | undefined;
  /** Multi-document file with invalid objects (default `<package>/examples/invalid/broken-batch.yaml`). */
  invalidFile?: string | undefined;
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export async function runDatastoreDemo(opts: DatastoreDemoOptions): Promise<void> {
  const { io } = opts;
  const root = packageInfo()?.root ?? process.cwd();
  const dir = opts.examplesDir ?? join(root, 'examples', 'demo');
  const invalid = opts.invalidFile ?? join(root, 'examples', 'invalid', 'broken-batch.yaml');
  const say = (text: string) => io.out(`\n# ${text.split('\n').join('\n# ')}\n`);

  say('Step 1: start a throwaway single-member etcd (temp data dir, free loopback port).');
  const etcd = await startEtcd({ name: 'tessera-demo' });
  const ep = etcd.endpoints.join(',');
  io.out(`etcd is serving at ${ep}\n`);
  // The commands' stderr goes to stdout too, so errors appear in order with the narration.
  const stepIO: CliIO = { out: (t) => io.out(t), err: (t) => io.out(t), readStdin: () => io.readStdin() };
  const cli = async (args: string[], expect: 'ok' | 'fail' = 'ok'): Promise<void> => {
    io.out(`\n$ tessera ${args.map(shellQuote).join(' ')}\n`);
    const code = await opts.runCli(['--etcd-endpoints', ep, ...args], stepIO);
    if (expect === 'fail') io.out(`(exit code ${code})\n`);
    if ((code === 0) !== (expect === 'ok')) {
      throw new TesseraError('bug', `demo step "tessera ${args.join(' ')}" exited ${code}, expected ${expect}`);
    }
  };
  try {
    say(
      `Step 2: apply every manifest in ${dir}: a Namespace, an IPPool, a Tier, a GlobalNetworkPolicy in that\n` +
        'tier, a Calico NetworkPolicy and a Kubernetes NetworkPolicy. All documents are validated first,\n' +
        'then written in one atomic etcd transaction.',
    );
    await cli(['apply', '-f', dir]);

    say('Step 3: read them back. Each kind has a table with its own columns.');
    await cli(['get', 'ippools']);
    await cli(['get', 'tiers']);
    await cli(['get', 'gnp']);
    await cli(['get', 'networkpolicies', '-A']);
    await cli(['get', 'knp', '-A']);
    await cli(['get', 'ns', '-o', 'wide']);

    say('Step 4: one object in full, as YAML. Defaults were filled in on apply; resourceVersion is the etcd revision.');
    await cli(['get', 'ippool', 'demo-pool', '-o', 'yaml']);

    say(
      `Step 5: a batch with mistakes (${invalid}).\n` +
        'Every problem is listed with its file, object and field path, the exit code is 1,\n' +
        'and nothing is written, not even the valid first document.',
    );
    await cli(['apply', '-f', invalid], 'fail');
    await cli(['get', 'ippools']);

    say('Step 6: labels and patches use compare-and-swap on the resourceVersion.');
    await cli(['label', 'ippool', 'demo-pool', 'env=demo']);
    await cli(['patch', 'ippool', 'demo-pool', '-p', '{"spec":{"natOutgoing":false}}']);
    await cli(['get', 'ippool', 'demo-pool', '-o', 'wide']);
  } finally {
    say('Step 7: stop etcd and remove its data dir.');
    await etcd.stop();
    io.out('done\n');
  }
}
