/**
 * `tessera ipam show|check|release|configure` (calicoctl ipam). Each verb is a function over a
 * Backend and an output sink, so it is unit-testable against MemoryBackend; `ipamVerb` is the CLI's
 * `(args, deps)` verb over them, and program.ts maps argv onto it.
 *
 * Exit codes: `check` exits 1 when it finds problems (a TesseraError after the report, so that the
 * error line says how many).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { ResourceStore, type Backend } from '../../datastore/index.js';
import { lookupKind } from '../../api/index.js';
import { TesseraError } from '../../lib/errors.js';
import { systemClock, type Clock } from '../../lib/clock.js';
import { IpamClient, loadLiveHandles, type IpamReport, type PoolUsage } from '../../ipam/index.js';
import { renderTable } from '../format.js';
import type { VerbDeps } from '../io.js';
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

export async function ipamShowVerb(
  opts: { showBlocks?: boolean | undefined; ip?: string | undefined },
  deps: IpamCliDeps,
): Promise<number> {
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

export async function ipamCheckVerb(opts: { output?: string | undefined }, deps: IpamCliDeps): Promise<IpamReport> {
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
  opts: { ip?: string[] | undefined; fromReport?: string | undefined; force?: boolean | undefined },
  deps: IpamCliDeps,
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
  opts: { strictAffinity?: string | undefined; maxBlocksPerHost?: string | undefined },
  deps: IpamCliDeps,
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

export type IpamArgs =
  | { sub: 'show'; showBlocks?: boolean | undefined; ip?: string | undefined }
  | { sub: 'check'; output?: string | undefined }
  | { sub: 'release'; ip?: string[] | undefined; fromReport?: string | undefined; force?: boolean | undefined }
  | { sub: 'configure'; strictAffinity?: string | undefined; maxBlocksPerHost?: string | undefined };

/** `tessera ipam SUB`: the CLI's verb (program.ts maps argv onto `args`). */
export async function ipamVerb(args: IpamArgs, deps: VerbDeps): Promise<number> {
  const d: IpamCliDeps = { backend: await deps.backend(), out: (t) => deps.io.out(t) };
  switch (args.sub) {
    case 'show':
      return ipamShowVerb(args, d);
    case 'check': {
      const report = await ipamCheckVerb(args, d);
      if (report.problems > 0) {
        throw new TesseraError('conflict', `ipam check found ${report.problems} problem(s)`, {
          details: { problems: report.problems },
        });
      }
      return 0;
    }
    case 'release':
      return ipamReleaseVerb(args, d);
    case 'configure':
      return ipamConfigureVerb(args, d);
  }
}
