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
  /** Wraps a verb call as a commander action that records its exit code. */
  run: (fn: (cmd: Command) => Promise<number> | number) => (...a: unknown[]) => Promise<void>;
  /** The verb deps of one invocation (its datastore opened lazily from the global options). */
  verbDeps: (cmd: Command) => VerbDeps;
}

/**
 * Registers one command group for real: argv onto `(args, deps)` verbs like the other commands,
 * their modules imported when they run (program.test.ts checks that every subcommand is one).
 */
export async function registerGroup(program: Command, group: GroupName, ctx: GroupContext): Promise<void> {
  const { run, verbDeps } = ctx;
  switch (group) {
    case 'demo':
      program
        .command('demo')
        .description(GROUP_DESCRIPTIONS.demo)
        .command('datastore')
        .description('start a throwaway etcd, apply examples/demo/*.yaml, show get and a validation failure, stop etcd')
        .option('--examples <dir>', 'directory of demo manifests (default examples/demo)')
        .action(
          run(async (cmd) =>
            (await import('./commands/demo.js')).demoDatastoreVerb(cmd.opts<{ examples?: string }>(), {
              ...verbDeps(cmd),
              // The demo runs real command lines against its own etcd, whatever store these deps open.
              runCli: async (argv, stepIO) => {
                const { openCliStore } = await import('./open-store.js');
                return runCli(argv, { io: stepIO, openStore: openCliStore });
              },
            }),
          ),
        );
      return;
    case 'lab':
      registerLabGroup(program, ctx);
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

/** A lab subcommand's arguments without the command line (labRun adds it). */
type LabSubArgs = import('./commands/lab.js').LabArgs extends infer T
  ? T extends unknown
    ? Omit<T, 'argv'>
    : never
  : never;

/** `lab ...` as typed, from the word `lab` on: what a VM lab runs inside its VM. */
function labArgv(cmd: Command): string[] {
  let root = cmd;
  while (root.parent) root = root.parent;
  const raw = (root as unknown as { rawArgs: string[] }).rawArgs;
  const at = raw.indexOf('lab');
  return at >= 0 ? raw.slice(at) : ['lab', ...cmd.args];
}

/** `tessera lab ...`: every subcommand maps argv onto labVerb's LabArgs. */
function registerLabGroup(program: Command, { run, verbDeps }: GroupContext): void {
  const labRun = (args: (cmd: Command) => LabSubArgs) =>
    run(async (cmd) =>
      (await import('./commands/lab.js')).labVerb(
        { ...args(cmd), argv: labArgv(cmd) } as import('./commands/lab.js').LabArgs,
        verbDeps(cmd),
      ),
    );
  const nameOpt = () => new Option('--name <name>', "lab name (default: the current context's lab)");
  const familyOpt = () =>
    new Option('--family <4|6>', 'address family of pod targets (default 4 when the pod has IPv4)').choices(['4', '6']);
  const kernelOpt = () =>
    new Option(
      '--kernel <kernel>',
      "host: namespaces in this kernel; vm: the whole lab inside one QEMU VM with Debian's kernel (ipip, SCTP)",
    )
      .choices(['host', 'vm'])
      .default('host');
  const probeProtocolOpt = () =>
    new Option('--protocol <proto>', 'TCP, UDP or SCTP (SCTP: kernels with SCTP sockets, e.g. --kernel vm)').default(
      'TCP',
    );
  const outputOpt = () =>
    new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table');
  const opts = <T extends object>(cmd: Command) => cmd.opts<T & { name?: string }>();
  const pos = <T extends unknown[]>(cmd: Command) => cmd.processedArgs as T;

  const lab = program.command('lab').description(GROUP_DESCRIPTIONS.lab);

  lab
    .command('up')
    .description('build a lab: fabric, hosts, etcd, agents; make it the current context')
    .addOption(nameOpt())
    .option('--nodes <n>', 'number of nodes', '3')
    .option('--subnets <k>', 'number of host subnets (routed by a router namespace when > 1)', '1')
    .option('--encapsulation <mode>', 'none | vxlan | vxlan-crosssubnet | ipip | ipip-crosssubnet', 'vxlan-crosssubnet')
    .option('--routing <mode>', 'agent | bgp', 'agent')
    .option('--ipv6', 'dual-stack hosts and an IPv6 pool')
    .option('--etcd-members <n>', '1 or 3', '1')
    .option('--no-kube-api', 'do not start the stand-in Kubernetes API (lab only)')
    .option(
      '--no-datastore-mirror',
      'do not write Namespaces/Pods into the datastore from the lab (tessera-kube-controllers does)',
    )
    .option('--etcd-proxy', 'agents and CNI reach etcd through an etcd grpc-proxy in each node (watch fan-out)')
    .addOption(kernelOpt())
    .option('--memory <size>', "with --kernel vm: the VM's memory (e.g. 2G)", '2G')
    .action(
      labRun((cmd) => ({
        sub: 'up',
        ...opts<{
          nodes: string;
          subnets: string;
          encapsulation: string;
          routing: string;
          ipv6?: boolean;
          etcdMembers: string;
          kubeApi: boolean;
          datastoreMirror: boolean;
          etcdProxy?: boolean;
          kernel: string;
          memory: string;
        }>(cmd),
      })),
    );

  lab
    .command('down')
    .description('remove every namespace, process and file of a lab (also after a failed up)')
    .addOption(nameOpt())
    .action(labRun((cmd) => ({ sub: 'down', ...opts<object>(cmd) })));

  lab
    .command('status')
    .description('nodes, routers and pods with their namespaces and addresses')
    .addOption(nameOpt())
    .addOption(outputOpt())
    .action(labRun((cmd) => ({ sub: 'status', ...opts<{ output: string }>(cmd) })));

  const node = lab.command('node').description("stop or start a node's agent");
  node
    .command('stop')
    .argument('<node>', 'node name (node-1, ...)')
    .addOption(nameOpt())
    .option('--keep-bird', "with --routing bgp: stop only the agent; BIRD keeps the node's routes announced")
    .description('stop the agent on a node (and its BIRD with --routing bgp: the node goes down)')
    .action(labRun((cmd) => ({ sub: 'node stop', node: pos<[string]>(cmd)[0], ...opts<{ keepBird?: boolean }>(cmd) })));
  node
    .command('start')
    .argument('<node>', 'node name (node-1, ...)')
    .addOption(nameOpt())
    .description('start the agent on a node (it starts BIRD again with --routing bgp)')
    .action(labRun((cmd) => ({ sub: 'node start', node: pos<[string]>(cmd)[0], ...opts<object>(cmd) })));

  node
    .command('listen')
    .argument('<node>', 'node name (node-1, ...)')
    .addOption(nameOpt())
    .requiredOption('--ports <list>', "servers to start in the node's host namespace, e.g. tcp:22,tcp:8080,udp:5353")
    .description('serve host ports on a node (TCP and UDP echo servers in its host netns; lab down removes them)')
    .action(labRun((cmd) => ({ sub: 'node listen', node: pos<[string]>(cmd)[0], ...opts<{ ports: string }>(cmd) })));
  node
    .command('unlisten')
    .argument('<node>', 'node name (node-1, ...)')
    .addOption(nameOpt())
    .option('--ports <list>', "only these (default: all of the node's listeners)")
    .description('stop host-port servers started by lab node listen')
    .action(labRun((cmd) => ({ sub: 'node unlisten', node: pos<[string]>(cmd)[0], ...opts<{ ports?: string }>(cmd) })));

  lab
    .command('nodeport')
    .argument('<node>', 'node name (node-1, ...)')
    .addOption(nameOpt())
    .requiredOption('--port <port>', 'the node port (TCP and UDP)')
    .requiredOption('--to <target>', 'NS/POD:PORT to DNAT to')
    .description('add a NodePort-style DNAT on a node (for exercising preDNAT policy)')
    .action(
      labRun((cmd) => ({
        sub: 'nodeport',
        node: pos<[string]>(cmd)[0],
        ...opts<{ port: string; to: string }>(cmd),
      })),
    );

  const router = lab.command('router').description('external BGP routers (top-of-rack stand-ins running BIRD)');
  router
    .command('add')
    .argument('<router>', 'router name (lower-case letters, digits, "-")')
    .addOption(nameOpt())
    .requiredOption('--as <asn>', "the router's AS number (1-4294967295 or asdot)")
    .option('--subnet <k>', 'host subnet to attach to (0-based)', '0')
    .description(
      'add a router netns on the fabric running BIRD; it peers with every node (nodes peer with it via a BGPPeer) and installs learned routes in its kernel',
    )
    .action(
      labRun((cmd) => ({
        sub: 'router add',
        router: pos<[string]>(cmd)[0],
        ...opts<{ as: string; subnet: string }>(cmd),
      })),
    );
  router
    .command('delete')
    .argument('<router>', 'router name')
    .addOption(nameOpt())
    .description("stop the router's BIRD and remove its netns")
    .action(labRun((cmd) => ({ sub: 'router delete', router: pos<[string]>(cmd)[0], ...opts<object>(cmd) })));

  const pod = lab.command('pod').description('create or delete pods');
  pod
    .command('create')
    .argument('<pod>', 'NAMESPACE/NAME')
    .addOption(nameOpt())
    .option('--node <node>', 'node to run on (default: the node with the fewest pods)')
    .option('--labels <k=v,...>', 'pod labels (default app=<name>)')
    .option('--service-account <sa>', 'service account', 'default')
    .option(
      '--ports <NAME:PROTO:PORT,...>',
      'served ports (default serve-80-tcp:TCP:80,serve-80-udp:UDP:80,serve-81-tcp:TCP:81,serve-81-udp:UDP:81)',
    )
    .description('create a pod: Pod resource, netns, CNI ADD, servers on its ports')
    .action(
      labRun((cmd) => ({
        sub: 'pod create',
        pod: pos<[string]>(cmd)[0],
        ...opts<{ node?: string; labels?: string; serviceAccount: string; ports?: string }>(cmd),
      })),
    );
  pod
    .command('delete')
    .argument('<pod>', 'NAMESPACE/NAME')
    .addOption(nameOpt())
    .description('CNI DEL and remove the pod (servers, netns, Pod resource)')
    .action(labRun((cmd) => ({ sub: 'pod delete', pod: pos<[string]>(cmd)[0], ...opts<object>(cmd) })));

  lab
    .command('exec')
    .argument('<pod>', 'NAMESPACE/NAME')
    .argument('<command...>', 'command and arguments (after --)')
    .addOption(nameOpt())
    .description("run a command inside a pod's network namespace")
    .action(
      labRun((cmd) => {
        const [p, command] = pos<[string, string[]]>(cmd);
        return { sub: 'exec', pod: p, command, ...opts<object>(cmd) };
      }),
    );

  lab
    .command('probe')
    .argument('<from>', 'source pod NAMESPACE/NAME, node/NAME or router/NAME')
    .argument('<to>', 'destination pod NAMESPACE/NAME, node/NAME, router/NAME or an IP address')
    .addOption(nameOpt())
    .requiredOption('--port <port>', 'destination port')
    .addOption(probeProtocolOpt())
    .option('--timeout-ms <ms>', 'give up after this long', '1000')
    .addOption(familyOpt())
    .addOption(outputOpt())
    .description('exit 0 if FROM can connect to TO, 1 if not')
    .action(
      labRun((cmd) => {
        const [from, to] = pos<[string, string]>(cmd);
        const o = opts<{ port: string; protocol: string; timeoutMs: string; family?: string; output: string }>(cmd);
        return { sub: 'probe', from, to, ...o };
      }),
    );

  lab
    .command('matrix')
    .argument('[hosts...]', 'node/NAME or router/NAME endpoints to add as rows and columns')
    .addOption(nameOpt())
    .option('--port <port>', 'destination port', '80')
    .addOption(probeProtocolOpt())
    .option('--timeout-ms <ms>', 'per-probe timeout', '1000')
    .addOption(familyOpt())
    .addOption(outputOpt())
    .description('probe every pod pair in parallel and show who can connect to whom')
    .action(
      labRun((cmd) => ({
        sub: 'matrix',
        hosts: pos<[string[]]>(cmd)[0],
        ...opts<{ port: string; protocol: string; timeoutMs: string; family?: string; output: string }>(cmd),
      })),
    );

  lab
    .command('demo')
    .option('--keep', 'keep the lab afterwards')
    .addOption(new Option('--name <name>', 'lab name').default('demo'))
    .addOption(kernelOpt())
    .option('--memory <size>', "with --kernel vm: the VM's memory (e.g. 2G)", '2G')
    .description('a 3-node lab, pods on every node, the matrix before and after a policy')
    .action(
      labRun((cmd) => ({
        sub: 'demo',
        ...cmd.opts<{ keep?: boolean; name: string; kernel: string; memory: string }>(),
      })),
    );
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
    .action(run(async (cmd) => (await import('./commands/context.js')).contextListVerb({}, verbDeps(cmd))));
  context
    .command('use')
    .argument('<name>')
    .description('make a context current')
    .action(
      run(async (cmd) =>
        (await import('./commands/context.js')).contextUseVerb({ name: cmd.processedArgs[0] as string }, verbDeps(cmd)),
      ),
    );
  context
    .command('delete')
    .argument('<name>')
    .description('remove a context')
    .action(
      run(async (cmd) =>
        (await import('./commands/context.js')).contextDeleteVerb(
          { name: cmd.processedArgs[0] as string },
          verbDeps(cmd),
        ),
      ),
    );

  for (const group of Object.keys(GROUP_DESCRIPTIONS) as GroupName[]) {
    if (realGroups.includes(group)) await registerGroup(program, group, { run, verbDeps });
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
