/**
 * `tessera lab ...`: thin argv mapping onto src/lab. Every subcommand takes `--name`; without it,
 * it acts on the current context's lab. Failures throw TesseraError (runCli prints them, exit 1;
 * code `usage` exits 2); `probe` exits 1 when not connected by throwing after printing the result.
 */
import { Command, Option } from 'commander';
import { TesseraError } from '../../lib/errors.js';
import { start } from '../../lib/exec.js';
import {
  formatMatrix,
  labDown,
  labStatusOf,
  labUp,
  loadLab,
  matrix,
  nodeStart,
  nodeStop,
  parseLabels,
  parsePorts,
  podCreate,
  podDelete,
  findPod,
  probePods,
  resolveLabName,
  routerAdd,
  routerDelete,
  runDemo,
  type LabStatus,
  type PortProtocol,
  nodeListen,
  nodeUnlisten,
  nodePort,
  parseHostPorts,
  readListeners,
  isVmLab,
  parseLabOptions,
  parseMemory,
  requireVmRecord,
  vmLabDown,
  vmLabUp,
  vmRun,
} from '../../lab/index.js';
import { validationError } from '../../lib/errors.js';

const out = (s: string) => process.stdout.write(s.endsWith('\n') ? s : `${s}\n`);
const progress = (s: string) => process.stderr.write(`${s}\n`);

function intOpt(flag: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v)) throw new TesseraError('usage', `${flag} "${v}" is invalid: expected a positive integer`);
  return Number(v);
}

function protocolOpt(v: string | undefined): PortProtocol {
  const p = (v ?? 'TCP').toUpperCase();
  if (p !== 'TCP' && p !== 'UDP' && p !== 'SCTP')
    throw new TesseraError('usage', `--protocol "${v}" is invalid: expected TCP, UDP or SCTP`);
  return p;
}

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
const outputOpt = () =>
  new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table');

export function formatStatus(st: LabStatus): string {
  const o = st.options;
  const lines = [
    `lab "${st.name}" (${st.phase}): ${o.nodes} node(s), ${o.subnets} subnet(s), encapsulation ${o.encapsulation}, routing ${o.routing}${o.ipv6 ? ', dual-stack' : ''}`,
    `etcd: ${st.etcdEndpoints.join(',') || '-'} (inside nodes: ${st.hostEtcdEndpoints.join(',') || '-'})`,
    ...(st.kubeconfig
      ? [`kubernetes: stand-in API (lab only) at ${st.kubeApi?.url ?? '-'}; export KUBECONFIG=${st.kubeconfig}`]
      : []),
    '',
  ];
  const table = (head: string[], rows: string[][]) => {
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    for (const r of [head, ...rows])
      lines.push(
        r
          .map((c, i) => c.padEnd(w[i]!))
          .join('  ')
          .trimEnd(),
      );
    lines.push('');
  };
  table(
    ['NODE', 'NETNS', 'IPS', 'AGENT'],
    st.nodes.map((n) => [n.name, n.netns, n.ips.join(','), n.agent]),
  );
  if (st.routers.length) {
    table(
      ['ROUTER', 'KIND', 'AS', 'NETNS', 'IPS'],
      st.routers.map((r) => [
        r.name,
        r.kind,
        r.bgp && r.asNumber !== undefined ? String(r.asNumber) : '-',
        r.netns,
        r.ips.join(','),
      ]),
    );
  }
  table(
    ['POD', 'NODE', 'IPS', 'NETNS'],
    st.pods.map((p) => [`${p.namespace}/${p.name}`, p.node, p.ips.join(','), p.netns]),
  );
  return lines.join('\n').trimEnd();
}

export function registerLab(program: Command): void {
  const lab = program
    .command('lab')
    .description('a multi-node cluster out of network namespaces on this machine (root)');

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
      async (o: {
        name?: string;
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
      }) => {
        if (o.kernel === 'vm') {
          const parsed = parseLabOptions({
            name: o.name,
            nodes: o.nodes,
            subnets: o.subnets,
            encapsulation: o.encapsulation,
            routing: o.routing,
            ipv6: o.ipv6 === true,
            etcdMembers: o.etcdMembers,
          });
          if (!parsed.options) throw validationError('cannot create lab', parsed.problems);
          const p = parsed.options;
          const argv = [
            'lab',
            'up',
            '--name',
            p.name,
            '--nodes',
            String(p.nodes),
            '--subnets',
            String(p.subnets),
            '--encapsulation',
            p.encapsulation,
            '--routing',
            p.routing,
            '--etcd-members',
            String(p.etcdMembers),
            ...(p.ipv6 ? ['--ipv6'] : []),
            ...(o.kubeApi ? [] : ['--no-kube-api']),
            ...(o.datastoreMirror ? [] : ['--no-datastore-mirror']),
            ...(o.etcdProxy === true ? ['--etcd-proxy'] : []),
          ];
          const code = await vmLabUp(p.name, parseMemory(o.memory), argv, { onProgress: progress });
          if (code !== 0) process.exit(code);
          return;
        }
        const st = await labUp(
          {
            name: o.name,
            nodes: o.nodes,
            subnets: o.subnets,
            encapsulation: o.encapsulation,
            routing: o.routing,
            ipv6: o.ipv6 === true,
            etcdMembers: o.etcdMembers,
            ...(o.etcdProxy === true ? { etcdProxy: true } : {}),
          },
          { onProgress: progress, kubeApi: o.kubeApi, datastoreMirror: o.datastoreMirror },
        );
        if (st.kube) out(`export KUBECONFIG=${st.kube.kubeconfig}`);
      },
    );

  // A VM lab (`lab up --kernel vm`): every subcommand but `up` and `demo` runs inside its VM, with
  // the VM's output and exit code.
  lab.hook('preAction', async (_lab, action) => {
    if (action.name() === 'up' || action.name() === 'demo') return;
    let name: string;
    try {
      name = resolveLabName(action.opts<{ name?: string }>().name);
    } catch {
      return;
    }
    if (!isVmLab(name)) return;
    if (action.name() === 'down') {
      const rec = requireVmRecord(name);
      await vmRun(rec, ['lab', 'down', '--name', name]).catch(() => 1);
      await vmLabDown(name, { onProgress: progress });
      process.exit(0);
    }
    let root = action;
    while (root.parent) root = root.parent;
    const raw = (root as unknown as { rawArgs: string[] }).rawArgs;
    const at = raw.indexOf('lab');
    process.exit(await vmRun(requireVmRecord(name), at >= 0 ? raw.slice(at) : ['lab', ...action.args]));
  });

  lab
    .command('down')
    .description('remove every namespace, process and file of a lab (also after a failed up)')
    .addOption(nameOpt())
    .action(async (o: { name?: string }) => {
      const r = await labDown(resolveLabName(o.name), { onProgress: progress });
      if (!r.existed) progress(`lab "${r.name}" did not exist: nothing to remove`);
    });

  lab
    .command('status')
    .description('nodes, routers and pods with their namespaces and addresses')
    .addOption(nameOpt())
    .addOption(outputOpt())
    .action(async (o: { name?: string; output: string }) => {
      const st = await labStatusOf(resolveLabName(o.name));
      out(o.output === 'json' ? JSON.stringify(st, null, 2) : formatStatus(st));
    });

  const node = lab.command('node').description("stop or start a node's agent");
  node
    .command('stop')
    .argument('<node>', 'node name (node-1, ...)')
    .addOption(nameOpt())
    .option('--keep-bird', "with --routing bgp: stop only the agent; BIRD keeps the node's routes announced")
    .description('stop the agent on a node (and its BIRD with --routing bgp: the node goes down)')
    .action(async (n: string, o: { name?: string; keepBird?: boolean }) => {
      await nodeStop(resolveLabName(o.name), n, { onProgress: progress, keepBird: o.keepBird === true });
    });
  node
    .command('start')
    .argument('<node>', 'node name (node-1, ...)')
    .addOption(nameOpt())
    .description('start the agent on a node (it starts BIRD again with --routing bgp)')
    .action(async (n: string, o: { name?: string }) => {
      await nodeStart(resolveLabName(o.name), n, { onProgress: progress });
    });

  node
    .command('listen')
    .argument('<node>', 'node name (node-1, ...)')
    .addOption(nameOpt())
    .requiredOption('--ports <list>', "servers to start in the node's host namespace, e.g. tcp:22,tcp:8080,udp:5353")
    .description('serve host ports on a node (TCP and UDP echo servers in its host netns; lab down removes them)')
    .action(async (n: string, o: { name?: string; ports: string }) => {
      const s = loadLab(resolveLabName(o.name));
      const added = await nodeListen(s, n, parseHostPorts(o.ports));
      out(
        `node ${n}: listening on ${readListeners(s, n)
          .map((l) => `${l.protocol.toLowerCase()}:${l.port}`)
          .join(', ')}${added.length ? '' : ' (already)'}`,
      );
    });
  node
    .command('unlisten')
    .argument('<node>', 'node name (node-1, ...)')
    .addOption(nameOpt())
    .option('--ports <list>', "only these (default: all of the node's listeners)")
    .description('stop host-port servers started by lab node listen')
    .action(async (n: string, o: { name?: string; ports?: string }) => {
      const s = loadLab(resolveLabName(o.name));
      const stopped = await nodeUnlisten(s, n, o.ports ? parseHostPorts(o.ports) : undefined);
      out(`node ${n}: stopped ${stopped} listener(s)`);
    });

  lab
    .command('nodeport')
    .argument('<node>', 'node name (node-1, ...)')
    .addOption(nameOpt())
    .requiredOption('--port <port>', 'the node port (TCP and UDP)')
    .requiredOption('--to <target>', 'NS/POD:PORT to DNAT to')
    .description('add a NodePort-style DNAT on a node (for exercising preDNAT policy)')
    .action(async (n: string, o: { name?: string; port: string; to: string }) => {
      const s = loadLab(resolveLabName(o.name));
      const r = await nodePort(s, n, intOpt('--port', o.port, 0), o.to);
      out(`node ${n}: port ${o.port} -> ${r.podIp}:${r.podPort}`);
    });

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
    .action(async (r: string, o: { name?: string; as: string; subnet: string }) => {
      const s = loadLab(resolveLabName(o.name));
      const rec = await routerAdd(s.dir, r, { asNumber: o.as, subnet: o.subnet, onProgress: progress });
      out(`router ${rec.name} added: AS ${rec.asNumber}, ${rec.ips.join(', ')}, netns ${rec.netns}`);
    });
  router
    .command('delete')
    .argument('<router>', 'router name')
    .addOption(nameOpt())
    .description("stop the router's BIRD and remove its netns")
    .action(async (r: string, o: { name?: string }) => {
      const s = loadLab(resolveLabName(o.name));
      out((await routerDelete(s.dir, r)) ? `router ${r} deleted` : `router ${r} did not exist`);
    });

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
      async (
        ref: string,
        o: { name?: string; node?: string; labels?: string; serviceAccount: string; ports?: string },
      ) => {
        const s = loadLab(resolveLabName(o.name));
        let labels: Record<string, string> | undefined;
        if (o.labels !== undefined) {
          const l = parseLabels(o.labels);
          if (!l.labels) throw new TesseraError('usage', `--labels: ${l.error}`);
          labels = l.labels;
        }
        let ports;
        if (o.ports !== undefined) {
          const p = parsePorts(o.ports);
          if (!p.ports) throw new TesseraError('usage', `--ports: ${p.error}`);
          ports = p.ports;
        }
        const p = await podCreate(s, ref, { node: o.node, labels, serviceAccount: o.serviceAccount, ports });
        out(`pod ${p.namespace}/${p.name} created on ${p.node}: ${p.ips.join(', ')}`);
      },
    );
  pod
    .command('delete')
    .argument('<pod>', 'NAMESPACE/NAME')
    .addOption(nameOpt())
    .description('CNI DEL and remove the pod (servers, netns, Pod resource)')
    .action(async (ref: string, o: { name?: string }) => {
      const s = loadLab(resolveLabName(o.name));
      const existed = await podDelete(s, ref);
      out(existed ? `pod ${ref} deleted` : `pod ${ref} did not exist`);
    });

  lab
    .command('exec')
    .argument('<pod>', 'NAMESPACE/NAME')
    .argument('<command...>', 'command and arguments (after --)')
    .addOption(nameOpt())
    .description("run a command inside a pod's network namespace")
    .action(async (ref: string, argv: string[], o: { name?: string }) => {
      const s = loadLab(resolveLabName(o.name));
      const p = findPod(s, ref);
      const child = start(argv, { netns: p.netns, stdio: 'inherit' });
      const code = await new Promise<number>((resolve) => {
        child.on('error', () => resolve(127));
        child.on('exit', (c, sig) => resolve(c ?? (sig ? 128 : 1)));
      });
      // The command's own exit code is the answer; nothing else of this CLI run is pending.
      process.exit(code);
    });

  lab
    .command('probe')
    .argument('<from>', 'source pod NAMESPACE/NAME, node/NAME or router/NAME')
    .argument('<to>', 'destination pod NAMESPACE/NAME, node/NAME, router/NAME or an IP address')
    .addOption(nameOpt())
    .requiredOption('--port <port>', 'destination port')
    .option('--protocol <proto>', 'TCP, UDP or SCTP (SCTP: kernels with SCTP sockets, e.g. --kernel vm)', 'TCP')
    .option('--timeout-ms <ms>', 'give up after this long', '1000')
    .addOption(familyOpt())
    .addOption(outputOpt())
    .description('exit 0 if FROM can connect to TO, 1 if not')
    .action(
      async (
        from: string,
        to: string,
        o: { name?: string; port: string; protocol: string; timeoutMs: string; family?: string; output: string },
      ) => {
        const s = loadLab(resolveLabName(o.name));
        const r = await probePods(s, from, to, {
          port: intOpt('--port', o.port, 0),
          protocol: protocolOpt(o.protocol),
          timeoutMs: intOpt('--timeout-ms', o.timeoutMs, 1000),
          family: o.family === '6' ? 6 : o.family === '4' ? 4 : undefined,
        });
        if (o.output === 'json') out(JSON.stringify(r));
        else
          out(
            `${from} -> ${to} (${r.ip}) ${r.protocol}/${r.port}: ${r.connected ? 'connected' : `not connected (${r.error})`} in ${r.elapsedMs} ms`,
          );
        if (!r.connected)
          throw new TesseraError(
            'unavailable',
            `${from} cannot connect to ${to} on ${r.protocol}/${r.port} (${r.error})`,
          );
      },
    );

  lab
    .command('matrix')
    .argument('[hosts...]', 'node/NAME or router/NAME endpoints to add as rows and columns')
    .addOption(nameOpt())
    .option('--port <port>', 'destination port', '80')
    .option('--protocol <proto>', 'TCP, UDP or SCTP (SCTP: kernels with SCTP sockets, e.g. --kernel vm)', 'TCP')
    .option('--timeout-ms <ms>', 'per-probe timeout', '1000')
    .addOption(familyOpt())
    .addOption(outputOpt())
    .description('probe every pod pair in parallel and show who can connect to whom')
    .action(
      async (
        hosts: string[],
        o: { name?: string; port: string; protocol: string; timeoutMs: string; family?: string; output: string },
      ) => {
        const s = loadLab(resolveLabName(o.name));
        const m = await matrix(s, {
          ...(hosts.length ? { hosts } : {}),
          port: intOpt('--port', o.port, 80),
          protocol: protocolOpt(o.protocol),
          timeoutMs: intOpt('--timeout-ms', o.timeoutMs, 1000),
          family: o.family === '6' ? 6 : o.family === '4' ? 4 : undefined,
        });
        out(o.output === 'json' ? JSON.stringify(m) : formatMatrix(m));
      },
    );

  lab
    .command('demo')
    .option('--keep', 'keep the lab afterwards')
    .addOption(new Option('--name <name>', 'lab name').default('demo'))
    .addOption(kernelOpt())
    .option('--memory <size>', "with --kernel vm: the VM's memory (e.g. 2G)", '2G')
    .description('a 3-node lab, pods on every node, the matrix before and after a policy')
    .action(async (o: { keep?: boolean; name: string; kernel: string; memory: string }) => {
      if (o.kernel === 'vm') {
        // The VM lab itself is what `lab up --kernel vm` makes; the demo runs inside it.
        const code = await vmLabUp(
          o.name,
          parseMemory(o.memory),
          ['lab', 'demo', '--name', o.name, ...(o.keep ? ['--keep'] : [])],
          { onProgress: progress },
        );
        if (!o.keep) await vmLabDown(o.name, { onProgress: progress });
        process.exit(code);
      }
      await runDemo({ name: o.name, keep: o.keep === true, out });
    });
}
