/** `tessera demo datastore`: a narrated walk through the resource API against a throwaway etcd. */
import type { Command } from 'commander';
import { runDatastoreDemo, type DemoCliRunner } from '../demo-datastore.js';
import type { CliIO } from '../io.js';

export function registerDemo(program: Command, io: CliIO, runCli: DemoCliRunner): void {
  const demo = program.command('demo').description('narrated demos');
  demo
    .command('datastore')
    .description('start a throwaway etcd, apply examples/demo/*.yaml, show get and a validation failure, stop etcd')
    .option('--examples <dir>', 'directory of demo manifests (default examples/demo)')
    .action(async (opts: { examples?: string }) => {
      await runDatastoreDemo({ io, runCli, examplesDir: opts.examples });
    });
}
