/**
 * validateBatch: rules that span documents. Problem paths name the document first:
 *
 *   [doc 3] IPPool "p2": spec.cidr
 *   [doc 2] NetworkPolicy "prod/deny-all": metadata.name
 *
 * `doc N` is the 1-based position in `rs`; namespaced kinds show `namespace/name`.
 * Existing resources with the same identity as a batch document are treated as the old version of
 * that document (it is being updated), never as a conflict.
 */
import type { Problem } from '../lib/errors.js';
import { checkCidr, type Cidr, cidrOverlaps } from '../lib/ip.js';
import { kindFor } from './kinds.js';
import type { Resource } from './resource.js';
import { DEFAULT_TIER, isBuiltinTier } from './tiers.js';
import { isRecord, quote } from './validate/shape.js';

export interface BatchContext {
  /** What the datastore holds now (at least every IPPool and Tier). */
  existing: readonly Resource[];
}

function identity(r: Resource): string {
  const info = kindFor(r.apiVersion, r.kind);
  const ns = info?.namespaced ? (r.metadata?.namespace ?? 'default') : '';
  return `${r.apiVersion}|${r.kind}|${ns}|${r.metadata?.name ?? ''}`;
}

function label(r: Resource): string {
  const info = kindFor(r.apiVersion, r.kind);
  const name = r.metadata?.name ?? '';
  return `${r.kind} ${JSON.stringify(info?.namespaced ? `${r.metadata?.namespace ?? 'default'}/${name}` : name)}`;
}

/** The path prefix naming document `i` (0-based) of a batch. */
export function docPrefix(i: number, r: Resource): string {
  return `[doc ${i + 1}] ${label(r)}`;
}

const isCalico = (r: Resource, kind: string) => r.apiVersion === 'projectcalico.org/v3' && r.kind === kind;

function poolCidr(r: Resource): Cidr | undefined {
  const spec = r.spec;
  if (!isRecord(spec) || typeof spec.cidr !== 'string') return undefined;
  return checkCidr(spec.cidr).cidr;
}

export function validateBatch(rs: readonly Resource[], ctx: BatchContext): Problem[] {
  const out: Problem[] = [];
  const add = (i: number, field: string, message: string) =>
    out.push({ path: `${docPrefix(i, rs[i]!)}: ${field}`, message });

  const firstSeen = new Map<string, number>();
  rs.forEach((r, i) => {
    const id = identity(r);
    const prev = firstSeen.get(id);
    if (prev === undefined) firstSeen.set(id, i);
    else add(i, 'metadata.name', `${label(r)} is defined twice: also document ${prev + 1}`);
  });
  const batchIds = new Set(firstSeen.keys());

  // Pools: new against new (report the later one), and new against existing (minus the pools
  // being updated by this batch).
  const pools: { i: number; cidr: Cidr; r: Resource }[] = [];
  rs.forEach((r, i) => {
    if (!isCalico(r, 'IPPool') || firstSeen.get(identity(r)) !== i) return;
    const cidr = poolCidr(r);
    if (!cidr) return;
    for (const other of pools) {
      if (cidrOverlaps(other.cidr, cidr)) {
        add(
          i,
          'spec.cidr',
          `${quote((r.spec as Record<string, unknown>).cidr)} overlaps ${label(other.r)} ` +
            `(${quote((other.r.spec as Record<string, unknown>).cidr)}) in document ${other.i + 1}`,
        );
      }
    }
    for (const e of ctx.existing) {
      if (!isCalico(e, 'IPPool') || batchIds.has(identity(e))) continue;
      const ec = poolCidr(e);
      if (ec && cidrOverlaps(ec, cidr)) {
        add(
          i,
          'spec.cidr',
          `${quote((r.spec as Record<string, unknown>).cidr)} overlaps existing ${label(e)} ` +
            `(${quote((e.spec as Record<string, unknown>).cidr)})`,
        );
      }
    }
    pools.push({ i, cidr, r });
  });

  // An IPPool's cidr and blockSize are fixed once it exists (Calico: "can only be set when the pool
  // is created"): the blocks already handed out were cut from them.
  rs.forEach((r, i) => {
    if (!isCalico(r, 'IPPool') || !isRecord(r.spec)) return;
    const old = ctx.existing.find((e) => identity(e) === identity(r));
    if (!old || !isRecord(old.spec)) return;
    const [oc, nc] = [poolCidr(old), poolCidr(r)];
    if (oc && nc && (oc.family !== nc.family || oc.value !== nc.value || oc.prefix !== nc.prefix)) {
      add(
        i,
        'spec.cidr',
        `cannot change from ${quote(old.spec.cidr)} to ${quote(r.spec.cidr)}: a pool's CIDR is fixed once it exists; ` +
          `create a new pool and set this one's spec.disabled: true to move workloads over`,
      );
    }
    const [ob, nb] = [old.spec.blockSize, r.spec.blockSize];
    if (typeof ob === 'number' && typeof nb === 'number' && ob !== nb) {
      add(
        i,
        'spec.blockSize',
        `cannot change from ${ob} to ${nb}: a pool's block size is fixed once it exists ` +
          `(an omitted blockSize means the default; write blockSize: ${ob} to keep it)`,
      );
    }
  });

  // Every policy's tier must exist: built in, in this batch, or in the datastore.
  const tiers = new Set<string>();
  for (const r of [...rs, ...ctx.existing]) if (isCalico(r, 'Tier') && r.metadata?.name) tiers.add(r.metadata.name);
  rs.forEach((r, i) => {
    if (!isCalico(r, 'NetworkPolicy') && !isCalico(r, 'GlobalNetworkPolicy')) return;
    const spec = r.spec;
    const tier = isRecord(spec) && typeof spec.tier === 'string' && spec.tier !== '' ? spec.tier : DEFAULT_TIER;
    if (!isBuiltinTier(tier) && !tiers.has(tier)) {
      add(i, 'spec.tier', `tier ${quote(tier)} does not exist (create the Tier first or in the same file)`);
    }
  });
  return out;
}
