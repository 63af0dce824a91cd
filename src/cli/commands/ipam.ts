/**
 * `tessera ipam show|check|release|configure` (calicoctl ipam). Each verb is a function over a
 * Backend and an output sink, so it is unit-testable against MemoryBackend; `registerIpam` only
 * maps argv onto them.
 *
 * Exit codes: `check` exits 1 when it finds problems (by throwing a TesseraError after printing
 * the report, since registered commands have no other way to set the code).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { openBackend, ResourceStore, type Backend } from '../../datastore/index.js';
import { lookupKind } from '../../api/index.js';
import { resolveDatastore } from '../../lib/context.js';
import { TesseraError } from '../../lib/errors.js';
import { systemClock, type Clock } from '../../lib/clock.js';
import { IpamClient, loadLiveHandles, type IpamReport, type PoolUsage } from '../../ipam/index.js';
import { renderTable } from '../format.js';
import { readPendingLeaks } from '../../controllers/index.js';

export interface IpamCliDeps {
  backend: Backend;
  out(text: string): void;
  clock?: Clock;
}

const pct = (n: number, total: number | bigint) => {
  const t = Number(total);
  return t === 0 ? '0%' : `${Math.round((n / t) * 100)}%`;
};

export async function ipamShowVerb(deps: IpamCliDeps, opts: { showBlocks?: boolean; ip?: string }): Promise<number> {
  const ipam = new IpamClient(deps.backend);
  if (opts.ip !== undefined) {
    const info = await ipam.lookupIp(opts.ip);
    switch (info.state) {
      case 'allocated': {
        const a = info.attrs ?? {};
        const who = [
          a['namespace'] && a['pod'] ? `pod ${a['namespace']}/${a['pod']}` : undefined,
          a['node'] ? `node ${a['node']}` : undefined,
        ].filter(Boolean);
        deps.out(`IP ${info.address} is in use\n`);
        deps.out(`  handle:   ${info.handleId ?? '(none)'}\n`);
        if (who.length) deps.out(`  workload: ${who.join(', ')}\n`);
        if (a['timestamp']) deps.out(`  since:    ${a['timestamp']}\n`);
        deps.out(
          `  block:    ${info.blockCidr} (affinity ${info.affinity ?? 'none'}), pool ${info.pool ?? '(none)'}\n`,
        );
        break;
      }
      case 'free':
        deps.out(`IP ${info.address} is not assigned (block ${info.blockCidr}, pool ${info.pool ?? '(none)'})\n`);
        break;
      case 'reserved':
        deps.out(`IP ${info.address} is reserved by an IPReservation (block ${info.blockCidr})\n`);
        break;
      case 'no-block':
        deps.out(
          info.pool
            ? `IP ${info.address} is not assigned (pool ${info.pool}; no block claimed yet)\n`
            : `IP ${info.address} is not in any IP pool\n`,
        );
        break;
    }
    return 0;
  }
  const usage = await ipam.usage();
  deps.out(renderUsage(usage, opts.showBlocks === true));
  return 0;
}

export function renderUsage(usage: PoolUsage[], showBlocks: boolean): string {
  const rows: string[][] = [];
  for (const p of usage) {
    const free = p.size - BigInt(p.inUse);
    rows.push([
      'IP Pool',
      p.cidr,
      p.size.toString(),
      `${p.inUse} (${pct(p.inUse, p.size)})`,
      `${free} (${pct(Number(free), p.size)})`,
    ]);
    if (!showBlocks) continue;
    for (const b of p.blocks) {
      rows.push([
        'Block',
        b.cidr,
        String(b.size),
        `${b.inUse} (${pct(b.inUse, b.size)})`,
        `${b.free} (${pct(b.free, b.size)})`,
        b.affinity ?? '(none)',
      ]);
    }
  }
  const headers = ['GROUPING', 'CIDR', 'IPS TOTAL', 'IPS IN USE', 'IPS FREE'];
  if (showBlocks) headers.push('AFFINITY');
  return renderTable(headers, rows);
}

export async function ipamCheckVerb(deps: IpamCliDeps, opts: { output?: string }): Promise<IpamReport> {
  const ipam = new IpamClient(deps.backend);
  const live = await loadLiveHandles(deps.backend);
  const rs = new ResourceStore(deps.backend);
  const [weps, pools] = await Promise.all([rs.list(lookupKind('WorkloadEndpoint')!), rs.list(lookupKind('IPPool')!)]);
  const endpointAddresses = weps.flatMap((w) => {
    const nets = (w.spec as { ipNetworks?: unknown } | undefined)?.ipNetworks;
    const endpoint = `${w.metadata.namespace ?? 'default'}/${w.metadata.name}`;
    return Array.isArray(nets)
      ? nets.filter((n): n is string => typeof n === 'string').map((address) => ({ address, endpoint }))
      : [];
  });
  const poolCidrs = pools.flatMap((p) => {
    const c = (p.spec as { cidr?: unknown } | undefined)?.cidr;
    return typeof c === 'string' ? [c] : [];
  });
  const report = await ipam.check({ liveHandles: (h) => live(h), endpointAddresses, poolCidrs });
  report.checkedAt = (deps.clock ?? systemClock).nowIso();
  deps.out(`Checked IPAM: ${report.problems} problem(s)\n`);
  const section = (title: string, lines: string[]) => {
    deps.out(`${title}: ${lines.length}\n`);
    for (const l of lines) deps.out(`  ${l}\n`);
  };
  section(
    'Leaked addresses (no live workload)',
    report.leaks.map((l) => `${l.address} handle=${l.handleId ?? '(none)'} block=${l.blockCidr}`),
  );
  section(
    'Allocations without a handle record',
    report.orphanAllocations.map((l) => `${l.address} handle=${l.handleId ?? '(none)'}`),
  );
  section(
    'Handle records that disagree with blocks',
    report.orphanHandles.map((h) => `${h.handleId} block=${h.block} recorded=${h.recorded} actual=${h.actual}`),
  );
  section(
    'Duplicates / overlapping blocks',
    report.duplicates.map((d) => `${d.address ?? ''} ${d.blocks.join(' ')}`.trim()),
  );
  section(
    'Affinity problems',
    report.affinityProblems.map((a) => `${a.host} ${a.cidr}: ${a.problem}`),
  );
  section(
    'Corrupt blocks',
    report.blockProblems.map((b) => `${b.block}: ${b.problem}`),
  );
  section(
    'Addresses in use that IPAM does not hold',
    (report.inUseNotAllocated ?? []).map((e) => `${e.address} endpoint=${e.endpoint}`),
  );
  section(
    'Allocations in no IP pool',
    (report.outsidePools ?? []).map((e) => `${e.address} block=${e.blockCidr} handle=${e.handleId ?? '(none)'}`),
  );
  // Leaks kube-controllers' IPAM GC has seen and will release when their grace period ends
  // (information, not a problem: the GC is handling them).
  const pendingGc = await readPendingLeaks(deps.backend);
  if (pendingGc.leaks.length > 0) {
    section(
      `Leaks awaiting kube-controllers GC (grace period ${pendingGc.gracePeriodSeconds}s)`,
      pendingGc.leaks.map(
        (l) =>
          `${l.address} handle=${l.handleId}${l.pod ? ` pod=${l.namespace}/${l.pod}` : ''} releaseAfter=${l.releaseAfter}`,
      ),
    );
  }
  if (opts.output !== undefined) {
    try {
      writeFileSync(opts.output, `${JSON.stringify(report, null, 2)}\n`);
    } catch (err) {
      throw new TesseraError('unavailable', `cannot write IPAM report "${opts.output}"`, { cause: err });
    }
    deps.out(`Report written to ${opts.output}\n`);
  }
  return report;
}

export function readReport(path: string): IpamReport {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new TesseraError('usage', `cannot read IPAM report "${path}": not a readable JSON file`, { cause: err });
  }
  const r = raw as Partial<IpamReport>;
  if (typeof r !== 'object' || r === null || !Array.isArray(r.leaks)) {
    throw new TesseraError(
      'validation',
      `cannot use IPAM report "${path}": it has no "leaks" list (write one with \`tessera ipam check -o FILE\`)`,
    );
  }
  return {
    leaks: r.leaks,
    orphanAllocations: r.orphanAllocations ?? [],
    orphanHandles: r.orphanHandles ?? [],
    duplicates: r.duplicates ?? [],
    affinityProblems: r.affinityProblems ?? [],
    blockProblems: r.blockProblems ?? [],
    problems: r.problems ?? 0,
  };
}

export async function ipamReleaseVerb(
  deps: IpamCliDeps,
  opts: { ip?: string[]; fromReport?: string; force?: boolean },
): Promise<number> {
  if ((opts.ip === undefined || opts.ip.length === 0) === (opts.fromReport === undefined)) {
    throw new TesseraError('usage', 'ipam release: give exactly one of --ip ADDR or --from-report FILE');
  }
  const ipam = new IpamClient(deps.backend);
  if (opts.ip !== undefined && !opts.force) {
    // An address a live workload (or a node's tunnel) still holds would be handed to the next pod
    // while the first still uses it: refuse, as calicoctl does, unless --force.
    const live = await loadLiveHandles(deps.backend);
    const inUse: string[] = [];
    for (const ip of opts.ip) {
      const info = await ipam.lookupIp(ip);
      if (info.state !== 'allocated' || info.handleId === null || info.handleId === undefined || !live(info.handleId))
        continue;
      const a = info.attrs ?? {};
      const who = a['namespace'] && a['pod'] ? `pod ${a['namespace']}/${a['pod']}` : `handle "${info.handleId}"`;
      inUse.push(`${info.address} (${who})`);
    }
    if (inUse.length) {
      throw new TesseraError(
        'conflict',
        `cannot release ${inUse.join(', ')}: still in use by a live workload; nothing was released (use --force to release anyway)`,
      );
    }
  }
  const r =
    opts.fromReport !== undefined
      ? await ipam.releaseFromReport(readReport(opts.fromReport))
      : await ipam.releaseIps(opts.ip!);
  for (const a of r.released) deps.out(`Released ${a}\n`);
  for (const a of r.stale) deps.out(`Skipped ${a}: reassigned since the report (sequence number or handle changed)\n`);
  for (const a of r.notAllocated) deps.out(`Skipped ${a}: not allocated\n`);
  deps.out(`Released ${r.released.length} address(es)\n`);
  return 0;
}

function parseBool(flag: string, v: string): boolean {
  if (/^(true|yes|1)$/i.test(v)) return true;
  if (/^(false|no|0)$/i.test(v)) return false;
  throw new TesseraError('usage', `${flag}: expected true or false, got "${v}"`);
}

export async function ipamConfigureVerb(
  deps: IpamCliDeps,
  opts: { strictAffinity?: string | undefined; maxBlocksPerHost?: string | undefined },
): Promise<number> {
  const patch: { strictAffinity?: boolean; maxBlocksPerHost?: number } = {};
  if (opts.strictAffinity !== undefined) patch.strictAffinity = parseBool('--strictaffinity', opts.strictAffinity);
  if (opts.maxBlocksPerHost !== undefined) {
    if (!/^\d+$/.test(opts.maxBlocksPerHost)) {
      throw new TesseraError(
        'usage',
        `--max-blocks-per-host: expected an integer >= 0, got "${opts.maxBlocksPerHost}"`,
      );
    }
    patch.maxBlocksPerHost = Number(opts.maxBlocksPerHost);
  }
  const ipam = new IpamClient(deps.backend);
  const cfg = Object.keys(patch).length ? await ipam.setConfig(patch) : await ipam.getConfig();
  deps.out(`StrictAffinity: ${cfg.strictAffinity}\nMaxBlocksPerHost: ${cfg.maxBlocksPerHost}\n`);
  return 0;
}

interface GlobalOpts {
  etcdEndpoints?: string;
  config?: string;
  context?: string;
}

async function withBackend<T>(cmd: Command, fn: (deps: IpamCliDeps) => Promise<T>): Promise<T> {
  const g = cmd.optsWithGlobals<GlobalOpts>();
  const ds = resolveDatastore({ etcdEndpoints: g.etcdEndpoints, config: g.config, context: g.context });
  const backend = openBackend({ ...ds, transport: 'http' });
  try {
    return await fn({ backend, out: (t) => process.stdout.write(t) });
  } finally {
    await backend.close();
  }
}

export function registerIpam(program: Command): void {
  const ipam = program
    .command('ipam')
    .description('IP address management: usage, consistency check, release, configuration');
  ipam
    .command('show')
    .description('show pool usage (and blocks), or who holds an address')
    .option('--show-blocks', 'also list every block with its affinity')
    .option('--ip <addr>', 'show who holds this address')
    .action(async (_o: unknown, cmd: Command) => {
      const o = cmd.opts<{ showBlocks?: boolean; ip?: string }>();
      await withBackend(cmd, (d) => ipamShowVerb(d, o));
    });
  ipam
    .command('check')
    .description('find leaked addresses, orphaned handles, duplicates; exit 1 when any is found')
    .option('-o, --output <file>', 'write the report as JSON (input to `ipam release --from-report`)')
    .action(async (_o: unknown, cmd: Command) => {
      const o = cmd.opts<{ output?: string }>();
      const report = await withBackend(cmd, (d) => ipamCheckVerb(d, o));
      if (report.problems > 0) {
        throw new TesseraError('conflict', `ipam check found ${report.problems} problem(s)`, {
          details: { problems: report.problems },
        });
      }
    });
  ipam
    .command('release')
    .description('release addresses: by address, or everything a check report found')
    .option('--ip <addr>', 'address to release (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--from-report <file>', 'release the leaks/orphans listed in a report from `ipam check -o`')
    .option('--force', 'release --ip addresses even while a live workload still uses them')
    .action(async (_o: unknown, cmd: Command) => {
      const o = cmd.opts<{ ip?: string[]; fromReport?: string; force?: boolean }>();
      await withBackend(cmd, (d) => ipamReleaseVerb(d, o));
    });
  ipam
    .command('configure')
    .description('set IPAM configuration (prints the resulting configuration)')
    .option('--strictaffinity <bool>', "true: never borrow addresses from other hosts' blocks")
    .option('--max-blocks-per-host <n>', 'maximum blocks per host and address family (0 = unlimited)')
    .action(async (_o: unknown, cmd: Command) => {
      const o = cmd.opts<{ strictaffinity?: string; maxBlocksPerHost?: string }>();
      await withBackend(cmd, (d) =>
        ipamConfigureVerb(d, { strictAffinity: o.strictaffinity, maxBlocksPerHost: o.maxBlocksPerHost }),
      );
    });
}
