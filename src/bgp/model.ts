/**
 * Inputs and outputs of the BIRD config renderer. Resources are taken as the datastore holds them
 * (loosely typed): the renderer must tolerate half-written objects and report, never throw.
 */
import type { Resource } from '../api/index.js';

export interface BirdBlock {
  cidr: string;
  /** `host:<node>` for an affine block; anything else is not this node's to export. */
  affinity: string | null;
}

export interface BirdWorkload {
  node: string;
  ipNetworks: string[];
}

export interface BirdConfigInput {
  /** The node BIRD runs on (its Node resource supplies router id, source address and AS). */
  nodeName: string;
  /** All BGPConfiguration resources: `default` (global) and `node.<name>` (per-node overrides). */
  bgpConfigurations: Resource[];
  nodes: Resource[];
  peers: Resource[];
  filters: Resource[];
  pools: Resource[];
  blocks: BirdBlock[];
  /** Local workloads; addresses outside this node's blocks are borrowed and exported as /32s. */
  workloads: BirdWorkload[];
  /**
   * BGP passwords, keyed `<secret name>/<key>` (what a `secretKeyRef` names). Outside Kubernetes
   * the driver fills this from files under `<stateDir>/secrets/<name>/<key>`.
   */
  secrets?: Readonly<Record<string, string>>;
}

export type PeerType = 'node-to-node mesh' | 'global' | 'node specific';

export interface RenderedPeer {
  /** BIRD protocol name (`Mesh_10_0_0_2`, `Global_...`, `Node_...`); status parsing keys on its prefix. */
  protocol: string;
  address: string;
  port?: number;
  family: 4 | 6;
  asNumber: number;
  type: PeerType;
  passive: boolean;
  routeReflectorClient: boolean;
  /** Which resource asked for it (`mesh`, or the BGPPeer name). */
  source: string;
}

export interface BirdConfig {
  /** Full bird.conf text; byte-identical for identical inputs. */
  text: string;
  peers: RenderedPeer[];
  /** Inputs skipped or degraded, one line each, quoting the value. */
  problems: string[];
}
