/**
 * Builds the `tessera` commander program and runs it. Every verb is a function
 * `(args, deps) => Promise<exitCode>` in commands/; this file only maps argv onto them.
 *
 * Exit codes: 0 ok; 1 the operation failed (including validation, one line per problem);
 * 2 usage error (commander's own errors and TesseraError code 'usage'). Expected errors never
 * print a stack trace; only non-Tessera errors and code 'bug' do.
 */
import { Command, CommanderError, Option } from 'commander';
import { describeError, isTesseraError } from '../lib/errors.js';
import type { ResolveOptions } from '../lib/context.js';
import type { OutputFormat } from './format.js';
import type { CliIO, VerbDeps } from './io.js';
import type { CliStore } from './store.js';
import type { Backend } from '../datastore/index.js';
import { packageInfo } from './package-root.js';

/*
 * Start-up time: every verb's module (and with it the API, YAML, the datastore, Node's tls/crypto/
 * child_process) is imported only when that verb runs. The command groups (lab, ipam, policy,
 * node, demo) are registered for real only when argv names them; otherwise a stub with the same
 * description stands in the top-level help (program.test.ts checks that the two agree).
 */
const OUTPUT_FORMAT_CHOICES: readonly OutputFormat[] = ['wide', 'yaml', 'json', 'name'];

type GroupName = 'demo' | 'lab' | 'ipam' | 'policy' | 'node';

/** The group commands' one-line descriptions, as their register functions set them. */
export const GROUP_DESCRIPTIONS: Record<GroupName, string> = {
  demo: 'narrated demos',
  lab: 'a multi-node cluster out of network namespaces on this machine (root)',
  ipam: 'IP address management: usage, consistency check, release, configuration',
  policy: 'network policy tools',
  node: 'node commands (BGP status)',
};

/** What a command group's registration needs from buildProgram. */
export interface GroupContext {
  io: CliIO;
  /** Wraps a verb call as a commander action that records its exit code. */
  run: (fn: (cmd: Command) => Promise<number> | number) => (...a: unknown[]) => Promise<void>;
  /** The verb deps of one invocation (its datastore opened lazily from the global options). */
  verbDeps: (cmd: Command) => VerbDeps;
}

/**
 * Registers one command group for real. ipam, policy and node are `(args, deps)` verbs like the
 * others, their modules imported when they run; lab and demo register themselves.
 */
export async function registerGroup(program: Command, group: GroupName, ctx: GroupContext): Promise<void> {
  const { run, verbDeps } = ctx;
  switch (group) {
    case 'demo':
      // The demo runs real command lines against its own etcd, whatever store these deps open.
      (await import('./commands/demo.js')).registerDemo(program, ctx.io, async (argv, stepIO) => {
        const { openCliStore } = await import('./open-store.js');
        return runCli(argv, { io: stepIO, openStore: openCliStore });
      });
      return;
    case 'lab':
      (await import('./commands/lab.js')).registerLab(program);
      return;
    case 'ipam': {
      const ipam = program.command('ipam').description(GROUP_DESCRIPTIONS.ipam);
      const ipamVerb = async (args: import('./commands/ipam.js').IpamArgs, cmd: Command) =>
        (await import('./commands/ipam.js')).ipamVerb(args, verbDeps(cmd));
      ipam
        .command('show')
        .description('show pool usage (and blocks), or who holds an address')
        .option('--show-blocks', 'also list every block with its affinity')
        .option('--ip <addr>', 'show who holds this address')
        .action(run((cmd) => ipamVerb({ sub: 'show', ...cmd.opts<{ showBlocks?: boolean; ip?: string }>() }, cmd)));
      ipam
        .command('check')
        .description('find leaked addresses, orphaned handles, duplicates; exit 1 when any is found')
        .option('-o, --output <file>', 'write the report as JSON (input to `ipam release --from-report`)')
        .action(run((cmd) => ipamVerb({ sub: 'check', ...cmd.opts<{ output?: string }>() }, cmd)));
      ipam
        .command('release')
        .description('release addresses: by address, or everything a check report found')
        .option('--ip <addr>', 'address to release (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
        .option('--from-report <file>', 'release the leaks/orphans listed in a report from `ipam check -o`')
        .option('--force', 'release --ip addresses even while a live workload still uses them')
        .action(
          run((cmd) =>
            ipamVerb({ sub: 'release', ...cmd.opts<{ ip?: string[]; fromReport?: string; force?: boolean }>() }, cmd),
          ),
        );
      ipam
        .command('configure')
        .description('set IPAM configuration (prints the resulting configuration)')
        .option('--strictaffinity <bool>', "true: never borrow addresses from other hosts' blocks")
        .option('--max-blocks-per-host <n>', 'maximum blocks per host and address family (0 = unlimited)')
        .action(
          run((cmd) => {
            const o = cmd.opts<{ strictaffinity?: string; maxBlocksPerHost?: string }>();
            return ipamVerb(
              { sub: 'configure', strictAffinity: o.strictaffinity, maxBlocksPerHost: o.maxBlocksPerHost },
              cmd,
            );
          }),
        );
      return;
    }
    case 'policy':
      program
        .command('policy')
        .description(GROUP_DESCRIPTIONS.policy)
        .command('explain')
        .description(
          'show which tier, policy and rule decide traffic from one workload to another (egress and ingress)',
        )
        .argument(
          '<from>',
          'client: ns/pod, ns/workloadendpoint, a unique WorkloadEndpoint name, node/NAME or hep/NAME',
        )
        .argument('<to>', 'server: same forms as <from>')
        .option('--port <port>', 'destination port', (v) => Number(v))
        .option('--protocol <proto>', 'TCP, UDP, SCTP, ICMP, ICMPv6 or a number', 'TCP')
        .option('--ip-version <v>', '4 or 6', (v) => (v === '6' ? 6 : 4))
        .option('--icmp-type <t>', 'ICMP type', (v) => Number(v))
        .option('--icmp-code <c>', 'ICMP code', (v) => Number(v))
        .option('-o, --output <format>', 'text or json', 'text')
        .action(
          run(async (cmd) => {
            const [from, to] = cmd.processedArgs as [string, string];
            const o = cmd.opts<import('./commands/policy.js').PolicyExplainOptions & { output: string }>();
            return (await import('./commands/policy.js')).policyExplainVerb({ ...o, from, to }, verbDeps(cmd));
          }),
        );
      return;
    case 'node':
      program
        .command('node')
        .description(GROUP_DESCRIPTIONS.node)
        .command('status')
        .argument('[node]', "read this node's published status from the datastore instead of the local BIRD")
        .option(
          '--bird-socket <path>',
          'local BIRD control socket (env TESSERA_BIRD_SOCKET; default <TESSERA_STATE_DIR or /run/tessera>/bird/bird.ctl; ' +
            "a lab node's is /run/tessera/labs/LAB/nodes/NODE/bird/bird.ctl)",
        )
        .option('-o, --output <format>', 'table (default) or json', 'table')
        .description('show BGP sessions: PEER ADDRESS | PEER TYPE | STATE | SINCE | INFO')
        .action(
          run(async (cmd) => {
            const [node] = cmd.processedArgs as [string | undefined];
            const o = cmd.opts<{ birdSocket?: string; output?: string }>();
            const { context } = cmd.optsWithGlobals<GlobalOpts>();
            return (await import('./commands/node.js')).nodeStatusCliVerb({ ...o, node, context }, verbDeps(cmd));
          }),
        );
      return;
  }
}

const VALUED_GLOBALS = new Set(['--etcd-endpoints', '--config', '--context']);

/** The first non-option word of argv (the verb), skipping global options and their values. */
export function verbOf(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (VALUED_GLOBALS.has(a)) {
      i++;
      continue;
    }
    if (a === '--') return argv[i + 1];
    if (!a.startsWith('-')) return a;
  }
  return undefined;
}

export interface ProgramDeps {
  io: CliIO;
  /**
   * Opens the datastore the global flags / env / context select (the real one resolves them with
   * resolveDatastore; tests ignore them and hand out an in-memory store).
   */
  openStore: (selection: ResolveOptions) => Promise<CliStore>;
  /** Opens the raw key-value datastore the same way (default: the real one, over etcd's JSON gateway). */
  openBackend?: (selection: ResolveOptions) => Promise<Backend>;
  env?: NodeJS.ProcessEnv;
}

interface GlobalOpts {
  etcdEndpoints?: string;
  config?: string;
  context?: string;
}

const collect = (v: string, prev: string[]) => [...prev, v];

/** Per-run state: the exit code the action chose and the store it opened (closed by runCli). */
interface RunState {
  code: number;
  store?: Promise<CliStore>;
  backend?: Promise<Backend>;
}

/**
 * The program with every verb; command groups are stubs unless named in `realGroups` (runCli
 * passes the one argv names; tests pass all).
 */
export async function buildProgram(
  deps: ProgramDeps,
  state: RunState = { code: 0 },
  realGroups: readonly string[] = Object.keys(GROUP_DESCRIPTIONS),
): Promise<Command> {
  const env = deps.env ?? process.env;
  const program = new Command('tessera');
  program
    .description('Tessera: container networking and network policy (calicoctl-compatible CLI)')
    .version(packageInfo()?.version ?? 'unknown', '--client-version', 'print the client version only')
    .option('--etcd-endpoints <urls>', 'etcd endpoints, comma-separated (env TESSERA_ETCD_ENDPOINTS)')
    .option('--config <file>', 'datastore config file (YAML/JSON: etcdEndpoints, caFile, certFile, keyFile)')
    .option('--context <name>', 'use this context from the CLI config instead of the current one')
    .exitOverride()
    .configureOutput({ writeOut: (s) => deps.io.out(s), writeErr: (s) => deps.io.err(s) })
    .showHelpAfterError('(run with --help for usage)')
    .allowExcessArguments(false);

  const selection = (cmd: Command): ResolveOptions => {
    const g = cmd.optsWithGlobals<GlobalOpts>();
    return { etcdEndpoints: g.etcdEndpoints, config: g.config, context: g.context, env };
  };
  const verbDeps = (cmd: Command): VerbDeps => ({
    io: deps.io,
    env,
    store: () => {
      state.store ??= deps.openStore(selection(cmd));
      return state.store;
    },
    backend: () => {
      state.backend ??= deps.openBackend
        ? deps.openBackend(selection(cmd))
        : import('./open-store.js').then((m) => m.openCliBackend(selection(cmd)));
      return state.backend;
    },
  });
  const run =
    (fn: (cmd: Command) => Promise<number> | number) =>
    async (...a: unknown[]) => {
      const cmd = a[a.length - 1] as Command;
      state.code = await fn(cmd);
    };
  const nsOpt = () => new Option('-n, --namespace <ns>', 'namespace of namespaced objects (default "default")');
  const fileOpt = () =>
    new Option('-f, --filename <path>', 'file, directory (*.yaml|*.yml|*.json) or - for stdin; repeatable')
      .argParser(collect)
      .default([]);

  program
    .command('apply')
    .description('create or update every resource in the files, validated first, written in one atomic batch')
    .addOption(fileOpt().makeOptionMandatory())
    .addOption(nsOpt())
    .action(
      run(async (cmd) => {
        const o = cmd.opts<{ filename: string[]; namespace?: string }>();
        return (await import('./commands/apply.js')).applyVerb(
          { files: o.filename, namespace: o.namespace },
          verbDeps(cmd),
        );
      }),
    );

  program
    .command('create')
    .description('create the resources in the files; fails if any exists')
    .addOption(fileOpt().makeOptionMandatory())
    .addOption(nsOpt())
    .option('--skip-exists', 'skip resources that already exist instead of failing')
    .action(
      run(async (cmd) => {
        const o = cmd.opts<{ filename: string[]; namespace?: string; skipExists?: boolean }>();
        return (await import('./commands/create.js')).createVerb(
          { files: o.filename, namespace: o.namespace, skipExists: o.skipExists },
          verbDeps(cmd),
        );
      }),
    );

  program
    .command('replace')
    .description('replace existing resources (compare-and-swap on resourceVersion)')
    .addOption(fileOpt().makeOptionMandatory())
    .addOption(nsOpt())
    .option('--skip-not-exists', 'skip resources that do not exist instead of failing')
    .action(
      run(async (cmd) => {
        const o = cmd.opts<{ filename: string[]; namespace?: string; skipNotExists?: boolean }>();
        return (await import('./commands/replace.js')).replaceVerb(
          { files: o.filename, namespace: o.namespace, skipNotExists: o.skipNotExists },
          verbDeps(cmd),
        );
      }),
    );

  program
    .command('delete')
    .description('delete resources by KIND NAME... or by the files that describe them')
    .argument('[kind]', 'kind: singular, plural or short name (ippool, gnp, netpol, ns, ...)')
    .argument('[names...]', 'names; NAMESPACE/NAME for namespaced kinds')
    .addOption(fileOpt())
    .addOption(nsOpt())
    .option('--skip-not-exists', 'do not fail on resources that do not exist')
    .action(
      run(async (cmd) => {
        const [kind, names] = cmd.processedArgs as [string | undefined, string[]];
        const o = cmd.opts<{ filename: string[]; namespace?: string; skipNotExists?: boolean }>();
        return (await import('./commands/delete.js')).deleteVerb(
          { kind, names, files: o.filename, namespace: o.namespace, skipNotExists: o.skipNotExists },
          verbDeps(cmd),
        );
      }),
    );

  program
    .command('get')
    .description('show resources of a kind, named ones, or those a file describes')
    .argument('[kind]', 'kind: singular, plural or short name')
    .argument('[names...]', 'names; NAMESPACE/NAME for namespaced kinds')
    .addOption(fileOpt())
    .addOption(nsOpt())
    .option('-A, --all-namespaces', 'list namespaced kinds across every namespace')
    .addOption(new Option('-o, --output <format>', 'output format').choices(OUTPUT_FORMAT_CHOICES))
    .action(
      run(async (cmd) => {
        const [kind, names] = cmd.processedArgs as [string | undefined, string[]];
        const o = cmd.opts<{
          filename: string[];
          namespace?: string;
          allNamespaces?: boolean;
          output?: OutputFormat;
        }>();
        return (await import('./commands/get.js')).getVerb(
          {
            kind,
            names,
            files: o.filename,
            namespace: o.namespace,
            allNamespaces: o.allNamespaces,
            output: o.output ?? 'table',
          },
          verbDeps(cmd),
        );
      }),
    );

  program
    .command('patch')
    .description('apply a JSON merge patch to one resource (validated, compare-and-swap)')
    .argument('<kind>')
    .argument('<name>')
    .requiredOption('-p, --patch <json>', 'JSON (or YAML) merge patch, e.g. \'{"spec":{"disabled":true}}\'')
    .addOption(nsOpt())
    .action(
      run(async (cmd) => {
        const [kind, name] = cmd.processedArgs as [string, string];
        const o = cmd.opts<{ patch: string; namespace?: string }>();
        return (await import('./commands/patch.js')).patchVerb(
          { kind, name, patch: o.patch, namespace: o.namespace },
          verbDeps(cmd),
        );
      }),
    );

  program
    .command('label')
    .description('add, change (--overwrite) or remove (key-) labels on any resource')
    .argument('<kind>')
    .argument('<name>', 'NAME or NAMESPACE/NAME')
    .argument('<changes...>', 'key=value to set, key- to remove')
    .addOption(nsOpt())
    .option('--overwrite', 'allow changing the value of an existing label')
    .action(
      run(async (cmd) => {
        const [kind, name, changes] = cmd.processedArgs as [string, string, string[]];
        const o = cmd.opts<{ namespace?: string; overwrite?: boolean }>();
        return (await import('./commands/label.js')).labelVerb(
          { kind, name, changes, namespace: o.namespace, overwrite: o.overwrite },
          verbDeps(cmd),
        );
      }),
    );

  program
    .command('validate')
    .description('validate manifests without a datastore')
    .addOption(fileOpt().makeOptionMandatory())
    .addOption(nsOpt())
    .action(
      run(async (cmd) => {
        const o = cmd.opts<{ filename: string[]; namespace?: string }>();
        return (await import('./commands/validate.js')).validateVerb(
          { files: o.filename, namespace: o.namespace },
          verbDeps(cmd),
        );
      }),
    );

  program
    .command('version')
    .description('print the client version and, if reachable, the cluster version')
    .action(run(async (cmd) => (await import('./commands/version.js')).versionVerb({}, verbDeps(cmd))));

  const context = program.command('context').description('manage datastore contexts (~/.tessera/config.json)');
  context
    .command('list')
    .description('list contexts; * marks the current one')
    .action(run(async () => (await import('./commands/context.js')).contextListVerb(deps.io, env)));
  context
    .command('use')
    .argument('<name>')
    .description('make a context current')
    .action(
      run(async (cmd) =>
        (await import('./commands/context.js')).contextUseVerb(cmd.processedArgs[0] as string, deps.io, env),
      ),
    );
  context
    .command('delete')
    .argument('<name>')
    .description('remove a context')
    .action(
      run(async (cmd) =>
        (await import('./commands/context.js')).contextDeleteVerb(cmd.processedArgs[0] as string, deps.io, env),
      ),
    );

  for (const group of Object.keys(GROUP_DESCRIPTIONS) as GroupName[]) {
    if (realGroups.includes(group)) await registerGroup(program, group, { io: deps.io, run, verbDeps });
    else program.command(group).description(GROUP_DESCRIPTIONS[group]).allowUnknownOption().allowExcessArguments();
  }
  return program;
}

/** Writes an error the way the CLI shows it and returns the exit code it maps to. */
export function reportError(err: unknown, io: CliIO): number {
  if (err instanceof CommanderError) {
    // commander already printed its message through configureOutput.
    return err.exitCode === 0 ? 0 : 2;
  }
  if (isTesseraError(err)) {
    if (err.code === 'bug') {
      io.err(`internal error (please report): ${err.stack ?? err.message}\n`);
      return 1;
    }
    if (err.code === 'validation') {
      io.err(`${err.message}\n`);
      if (!err.message.includes('\n')) {
        // A problem the headline already states (one bad file, one unknown kind) is not repeated.
        for (const p of err.problems)
          if (!err.message.includes(p.message)) io.err(`  ${p.path ? `${p.path}: ` : ''}${p.message}\n`);
      }
      return 1;
    }
    io.err(`error: ${describeError(err)}\n`);
    return err.code === 'usage' ? 2 : 1;
  }
  io.err(`internal error (please report): ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}

/** Runs one CLI invocation (argv without node and script) and returns its exit code. */
export async function runCli(argv: string[], deps: ProgramDeps): Promise<number> {
  const state: RunState = { code: 0 };
  let code: number;
  try {
    const verb = verbOf(argv);
    const groups =
      verb === 'help' ? argv.filter((a) => a in GROUP_DESCRIPTIONS) : verb && verb in GROUP_DESCRIPTIONS ? [verb] : [];
    const program = await buildProgram(deps, state, groups);
    await program.parseAsync(argv, { from: 'user' });
    code = state.code;
  } catch (err) {
    code = reportError(err, deps.io);
  } finally {
    for (const opened of [state.store, state.backend]) {
      await opened?.then(
        (s) => s.close(),
        () => undefined,
      );
    }
  }
  return code;
}
