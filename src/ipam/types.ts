/**
 * IPAM data shapes: what is stored in the datastore (blocks, affinities, handles, config) and what
 * the allocator's callers pass and get back. Stored shapes follow libcalico-go's model field names
 * (`handle_id`, `secondary`, `sequenceNumberForAllocation`) so they read like Calico's.
 */

export type IpFamilyNum = 4 | 6;

/** What an address may be used for (IPPool `spec.allowedUses`). */
export type IpUse = 'Workload' | 'Tunnel';

/** Attributes stored with every allocation (Calico's `secondary` attributes). */
export interface IpamAttrs {
  node: string;
  namespace?: string;
  pod?: string;
  /** ISO-8601 time of the assignment (callers pass their clock's `nowIso()`). */
  timestamp: string;
}

export interface AllocationAttribute {
  handle_id: string | null;
  secondary: Record<string, string> | null;
}

/**
 * An allocation block, stored at `ipamKeys.block(cidr)`. `allocations[ordinal]` is an index into
 * `attributes` (or null when free); `unallocated` is the ordered free list (assign from the front,
 * released ordinals go to the back so reuse is delayed). `sequenceNumberForAllocation[ordinal]` is
 * the block's `sequenceNumber` at the time the ordinal was assigned: a release that names a
 * different number is stale and frees nothing.
 */
export interface AllocationBlock {
  cidr: string;
  /** `host:<node>` or null for a block nobody is affine to. */
  affinity: string | null;
  allocations: (number | null)[];
  unallocated: number[];
  attributes: AllocationAttribute[];
  sequenceNumber: number;
  sequenceNumberForAllocation: Record<string, number>;
  deleted?: boolean;
}

/** Stored at `ipamKeys.affinity(host, cidr)`; the block's own `affinity` field is the truth. */
export interface BlockAffinity {
  host: string;
  cidr: string;
  state: 'pending' | 'confirmed';
}

/** Stored at `ipamKeys.handle(id)`: how many addresses the handle holds in each block. */
export interface IpamHandle {
  handleID: string;
  block: Record<string, number>;
}

export interface IpamConfig {
  /** Never borrow addresses from blocks affine to other hosts. */
  strictAffinity: boolean;
  /** Maximum blocks a host may claim per address family; 0 = unlimited. */
  maxBlocksPerHost: number;
}

export const DEFAULT_IPAM_CONFIG: IpamConfig = { strictAffinity: false, maxBlocksPerHost: 0 };

export interface AutoAssignArgs {
  /** Number of IPv4 / IPv6 addresses wanted (dual stack in one call). */
  num4: number;
  num6: number;
  /** `<network>.<containerID>` */
  handleId: string;
  attrs: IpamAttrs;
  /** The host the addresses are for (block affinity, pool nodeSelector). */
  hostname: string;
  /** Restrict to these pools (names or CIDRs); default: every enabled pool of the family. */
  ipv4Pools?: string[];
  ipv6Pools?: string[];
  /** Default `Workload`. */
  use?: IpUse;
  /**
   * When the handle already holds addresses, return those instead of assigning more (a retried
   * CNI ADD). Saves the caller a separate `ipsByHandle` round trip.
   */
  reuseHandle?: boolean;
  signal?: AbortSignal;
}

/**
 * One assigned address. `address` is plain (`10.244.1.5`); `prefixLength` is the block's
 * (`26`), i.e. `${address}/${prefixLength}` is the CIDR form Calico's CNI reports.
 */
export interface AssignedIp {
  address: string;
  family: IpFamilyNum;
  prefixLength: number;
  blockCidr: string;
  /** Pass back to `releaseIps` to make the release safe against reuse. */
  sequenceNumber: number;
  /** Name of the IPPool the block belongs to. */
  pool: string;
}

export interface AutoAssignResult {
  ipv4: AssignedIp[];
  ipv6: AssignedIp[];
}

export interface AssignIpArgs {
  ip: string;
  handleId: string;
  attrs: IpamAttrs;
  hostname: string;
  signal?: AbortSignal;
}

/** An address to release; `sequenceNumber`, when given, must match or the release is skipped. */
export interface ReleaseTarget {
  address: string;
  sequenceNumber?: number;
  /** When given, the address is released only if it is held by this handle. */
  handleId?: string;
}

export interface ReleaseResult {
  /** Addresses actually freed. */
  released: string[];
  /** Addresses not freed because their sequence number or handle did not match (reused since). */
  stale: string[];
  /** Addresses that were not allocated (already free, or in no block): success, deletes are idempotent. */
  notAllocated: string[];
}

/** Who holds an address (`tessera ipam show --ip`). */
export interface IpInfo {
  address: string;
  blockCidr: string;
  pool?: string;
  affinity: string | null;
  state: 'allocated' | 'free' | 'reserved' | 'no-block';
  handleId?: string;
  attrs?: Record<string, string>;
  sequenceNumber?: number;
}

export interface BlockUsage {
  cidr: string;
  pool?: string;
  affinity: string | null;
  size: number;
  inUse: number;
  free: number;
}

export interface PoolUsage {
  name: string;
  cidr: string;
  family: IpFamilyNum;
  disabled: boolean;
  size: bigint;
  inUse: number;
  /** Addresses in claimed blocks not in use. */
  freeInBlocks: number;
  blocks: BlockUsage[];
}

export interface LeakEntry {
  address: string;
  blockCidr: string;
  handleId: string | null;
  sequenceNumber?: number;
  attrs?: Record<string, string>;
}

export interface IpamReport {
  /** Allocations whose handle has no live workload (per the caller's predicate). */
  leaks: LeakEntry[];
  /** Handle records that point at blocks holding no address for them. */
  orphanHandles: { handleId: string; block: string; recorded: number; actual: number }[];
  /** Allocations whose handle has no handle record (or a record that does not count them). */
  orphanAllocations: LeakEntry[];
  /** The same address in two blocks, or two overlapping blocks. */
  duplicates: { address?: string; blocks: string[] }[];
  /** Pending affinities / affinity keys disagreeing with their block. */
  affinityProblems: { host: string; cidr: string; problem: string }[];
  /** Blocks whose stored structure is inconsistent (corruption). */
  blockProblems: { block: string; problem: string }[];
  /** Addresses workload endpoints use that IPAM does not hold as allocated (released while in use). */
  inUseNotAllocated?: { address: string; endpoint: string }[];
  /** Allocated addresses in blocks that lie in no existing IP pool (the pool was deleted). */
  outsidePools?: { address: string; blockCidr: string; handleId: string | null }[];
  problems: number;
  checkedAt?: string;
}

export interface CheckOptions {
  /**
   * Which handles belong to live workloads. Omit to skip leak detection (only structural
   * problems are reported). A Set is matched by exact handle id.
   */
  liveHandles?: ReadonlySet<string> | ((handleId: string, attrs: Record<string, string> | null) => boolean);
  /** Addresses endpoints use (WorkloadEndpoint ipNetworks), checked against the allocations. */
  endpointAddresses?: { address: string; endpoint: string }[];
  /** Pool CIDRs that exist; with it, allocations outside every pool are reported. */
  poolCidrs?: string[];
  signal?: AbortSignal;
}
