/**
 * `tessera lab ...`: the CLI's `(args, deps)` verb over src/lab; program.ts maps argv onto
 * `LabArgs`. Every subcommand takes `--name`; without it, it acts on the current context's lab.
 * Failures throw TesseraError (runCli prints them, exit 1; code `usage` exits 2); `probe` exits 1
 * when not connected by throwing after printing the result.
 *
 * A VM lab (`lab up --kernel vm`): every subcommand but `up` and `demo` runs inside its VM, with
 * the VM's output and exit code. `exec` hands the process's own stdio to the command (a terminal
 * stays a terminal); its exit code is the verb's.
 */
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
  type ForwardIO,
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
import type { CliIO, VerbDeps } from '../io.js';

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

type Opt<T> = T | undefined;

/** What every lab subcommand gets: the lab (`--name`) and the command line from `lab` on. */
interface LabCommon {
  name?: Opt<string>;
  /** `lab ...` as typed (forwarded to a VM lab as is). */
  argv: readonly string[];
}

/** One `tessera lab` subcommand's arguments, as program.ts maps them from argv. */
export type LabArgs = LabCommon &
  (
    | {
        sub: 'up';
        nodes: string;
        subnets: string;
        encapsulation: string;
        routing: string;
        ipv6?: Opt<boolean>;
        etcdMembers: string;
        kubeApi: boolean;
        datastoreMirror: boolean;
        etcdProxy?: Opt<boolean>;
        kernel: string;
        memory: string;
      }
    | { sub: 'down' }
    | { sub: 'status'; output: string }
    | { sub: 'node stop'; node: string; keepBird?: Opt<boolean> }
    | { sub: 'node start'; node: string }
    | { sub: 'node listen'; node: string; ports: string }
    | { sub: 'node unlisten'; node: string; ports?: Opt<string> }
    | { sub: 'nodeport'; node: string; port: string; to: string }
    | { sub: 'router add'; router: string; as: string; subnet: string }
    | { sub: 'router delete'; router: string }
    | {
        sub: 'pod create';
        pod: string;
        node?: Opt<string>;
        labels?: Opt<string>;
        serviceAccount: string;
        ports?: Opt<string>;
      }
    | { sub: 'pod delete'; pod: string }
    | { sub: 'exec'; pod: string; command: string[] }
    | {
        sub: 'probe';
        from: string;
        to: string;
        port: string;
        protocol: string;
        timeoutMs: string;
        family?: Opt<string>;
        output: string;
      }
    | {
        sub: 'matrix';
        hosts: string[];
        port: string;
        protocol: string;
        timeoutMs: string;
        family?: Opt<string>;
        output: string;
      }
    | { sub: 'demo'; name: string; keep?: Opt<boolean>; kernel: string; memory: string }
  );

/** A VM's output, byte for byte, through the CLI's sinks. */
const forward = (io: CliIO): ForwardIO => ({ stdout: (b) => io.out(b), stderr: (b) => io.err(b) });

const family = (v: string | undefined) => (v === '6' ? 6 : v === '4' ? 4 : undefined);

/** `tessera lab SUB ...`; returns the exit code. */
export async function labVerb(args: LabArgs, deps: VerbDeps): Promise<number> {
  const { io, env } = deps;
  const out = (s: string) => io.out(s.endsWith('\n') ? s : `${s}\n`);
  const progress = (s: string) => io.err(`${s}\n`);
  const lab = () => loadLab(resolveLabName(args.name, env), env);

  if (args.sub !== 'up' && args.sub !== 'demo') {
    let name: string | undefined;
    try {
      name = resolveLabName(args.name, env);
    } catch {
      name = undefined;
    }
    if (name !== undefined && isVmLab(name, env)) {
      if (args.sub === 'down') {
        const rec = requireVmRecord(name, env);
        await vmRun(rec, ['lab', 'down', '--name', name], forward(io)).catch(() => 1);
        await vmLabDown(name, { env, onProgress: progress });
        return 0;
      }
      return vmRun(requireVmRecord(name, env), [...args.argv], forward(io));
    }
  }

  switch (args.sub) {
    case 'up': {
      const o = args;
      const raw = {
        name: o.name,
        nodes: o.nodes,
        subnets: o.subnets,
        encapsulation: o.encapsulation,
        routing: o.routing,
        ipv6: o.ipv6 === true,
        etcdMembers: o.etcdMembers,
      };
      if (o.kernel === 'vm') {
        const parsed = parseLabOptions(raw);
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
        return vmLabUp(p.name, parseMemory(o.memory), argv, { env, onProgress: progress, io: forward(io) });
      }
      const st = await labUp(
        { ...raw, ...(o.etcdProxy === true ? { etcdProxy: true } : {}) },
        { env, onProgress: progress, kubeApi: o.kubeApi, datastoreMirror: o.datastoreMirror },
      );
      if (st.kube) out(`export KUBECONFIG=${st.kube.kubeconfig}`);
      return 0;
    }
    case 'down': {
      const r = await labDown(resolveLabName(args.name, env), { env, onProgress: progress });
      if (!r.existed) progress(`lab "${r.name}" did not exist: nothing to remove`);
      return 0;
    }
    case 'status': {
      const st = await labStatusOf(resolveLabName(args.name, env), { env });
      out(args.output === 'json' ? JSON.stringify(st, null, 2) : formatStatus(st));
      return 0;
    }
    case 'node stop':
      await nodeStop(resolveLabName(args.name, env), args.node, {
        env,
        onProgress: progress,
        keepBird: args.keepBird === true,
      });
      return 0;
    case 'node start':
      await nodeStart(resolveLabName(args.name, env), args.node, { env, onProgress: progress });
      return 0;
    case 'node listen': {
      const s = lab();
      const n = args.node;
      const added = await nodeListen(s, n, parseHostPorts(args.ports));
      out(
        `node ${n}: listening on ${readListeners(s, n)
          .map((l) => `${l.protocol.toLowerCase()}:${l.port}`)
          .join(', ')}${added.length ? '' : ' (already)'}`,
      );
      return 0;
    }
    case 'node unlisten': {
      const s = lab();
      const stopped = await nodeUnlisten(s, args.node, args.ports ? parseHostPorts(args.ports) : undefined);
      out(`node ${args.node}: stopped ${stopped} listener(s)`);
      return 0;
    }
    case 'nodeport': {
      const s = lab();
      const r = await nodePort(s, args.node, intOpt('--port', args.port, 0), args.to);
      out(`node ${args.node}: port ${args.port} -> ${r.podIp}:${r.podPort}`);
      return 0;
    }
    case 'router add': {
      const s = lab();
      const rec = await routerAdd(s.dir, args.router, { asNumber: args.as, subnet: args.subnet, onProgress: progress });
      out(`router ${rec.name} added: AS ${rec.asNumber}, ${rec.ips.join(', ')}, netns ${rec.netns}`);
      return 0;
    }
    case 'router delete': {
      const s = lab();
      out(
        (await routerDelete(s.dir, args.router))
          ? `router ${args.router} deleted`
          : `router ${args.router} did not exist`,
      );
      return 0;
    }
    case 'pod create': {
      const o = args;
      const s = lab();
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
      const p = await podCreate(s, o.pod, { node: o.node, labels, serviceAccount: o.serviceAccount, ports });
      out(`pod ${p.namespace}/${p.name} created on ${p.node}: ${p.ips.join(', ')}`);
      return 0;
    }
    case 'pod delete': {
      const s = lab();
      const existed = await podDelete(s, args.pod);
      out(existed ? `pod ${args.pod} deleted` : `pod ${args.pod} did not exist`);
      return 0;
    }
    case 'exec': {
      const s = lab();
      const p = findPod(s, args.pod);
      const child = start(args.command, { netns: p.netns, stdio: 'inherit' });
      // The command's own exit code is the answer.
      return new Promise<number>((resolve) => {
        child.on('error', () => resolve(127));
        child.on('exit', (c, sig) => resolve(c ?? (sig ? 128 : 1)));
      });
    }
    case 'probe': {
      const { from, to } = args;
      const s = lab();
      const r = await probePods(s, from, to, {
        port: intOpt('--port', args.port, 0),
        protocol: protocolOpt(args.protocol),
        timeoutMs: intOpt('--timeout-ms', args.timeoutMs, 1000),
        family: family(args.family),
      });
      if (args.output === 'json') out(JSON.stringify(r));
      else
        out(
          `${from} -> ${to} (${r.ip}) ${r.protocol}/${r.port}: ${r.connected ? 'connected' : `not connected (${r.error})`} in ${r.elapsedMs} ms`,
        );
      if (!r.connected)
        throw new TesseraError(
          'unavailable',
          `${from} cannot connect to ${to} on ${r.protocol}/${r.port} (${r.error})`,
        );
      return 0;
    }
    case 'matrix': {
      const s = lab();
      const m = await matrix(s, {
        ...(args.hosts.length ? { hosts: args.hosts } : {}),
        port: intOpt('--port', args.port, 80),
        protocol: protocolOpt(args.protocol),
        timeoutMs: intOpt('--timeout-ms', args.timeoutMs, 1000),
        family: family(args.family),
      });
      out(args.output === 'json' ? JSON.stringify(m) : formatMatrix(m));
      return 0;
    }
    case 'demo': {
      const o = args;
      if (o.kernel === 'vm') {
        // The VM lab itself is what `lab up --kernel vm` makes; the demo runs inside it.
        const code = await vmLabUp(
          o.name,
          parseMemory(o.memory),
          ['lab', 'demo', '--name', o.name, ...(o.keep ? ['--keep'] : [])],
          { env, onProgress: progress, io: forward(io) },
        );
        if (!o.keep) await vmLabDown(o.name, { env, onProgress: progress });
        return code;
      }
      await runDemo({ name: o.name, keep: o.keep === true, env, out });
      return 0;
    }
  }
}
