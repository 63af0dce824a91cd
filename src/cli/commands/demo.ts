/** `tessera demo datastore`: a narrated walk through the resource API against a throwaway etcd. */
import { runDatastoreDemo, type DemoCliRunner } from '../demo-datastore.js';
import type { VerbDeps } from '../io.js';

export interface DemoDatastoreArgs {
  /** Directory of demo manifests (default examples/demo). */
  examples?: string | undefined;
}

/** The demo's deps: every step is a real command line, run by `runCli` (handed in by program.ts). */
export interface DemoDeps extends VerbDeps {
  runCli: DemoCliRunner;
}

/** `tessera demo datastore`: the CLI's verb (program.ts maps argv onto `args`). */
export async function demoDatastoreVerb(args: DemoDatastoreArgs, deps: DemoDeps): Promise<number> {
  await runDatastoreDemo({ io: deps.io, runCli: deps.runCli, examplesDir: args.examples });
  return 0;
}
