/**
 * BGP routing with BIRD 2: a pure renderer (datastore → bird.conf), a writer that is the only code
 * touching BIRD, the agent's driver, session status, and an external "top-of-rack" router.
 *
 * DESIGN — what a reviewer must check
 * - renderBirdConfig is pure and deterministic (sorted everything): identical inputs give identical
 *   text, so the writer reloads BIRD only on real change. Golden files pin the output; every golden
 *   is checked with the real `bird -p` (test/bgp-config.test.ts).
 * - Exports (function tessera_export_bgp<4|6>): exactly this node's affine blocks and borrowed
 *   /32s (static protocol tessera_static<4|6>, blackhole routes that never reach the kernel), never a
 *   pool with disableBGPExport, and BGP-learned routes inside exportable pools (route reflection,
 *   transit). "Confirmed" affinity = the block's affinity is `host:<node>` (the mirror's view).
 * - Kernel: BIRD never learns kernel routes (`learn off`, proto 80 rejected on import) and
 *   programs only BGP-learned routes (proto bird = 12, metric 32, ECMP `merge paths on`). Prefixes
 *   the agent routes through a tunnel (VXLAN/IPIP Always; CrossSubnet with an off-subnet next hop)
 *   are never programmed by BIRD: the agent owns them (proto 80, onlink via the tunnel device, as
 *   Calico marks IPIP routes). The agent only deletes proto 80, so BIRD's routes are left alone.
 * - Sessions: mesh between all nodes (higher address passive); BGPPeers global / node /
 *   nodeSelector with peerIP (optional port) or peerSelector (forward and reverse, as Calico; the
 *   higher address passive). A route reflector (routeReflectorClusterID) renders `rr client` +
 *   `rr cluster id` for iBGP peers outside its cluster. A per-node AS makes sessions eBGP.
 * - Passwords: `secretKeyRef` is resolved from `<stateDir>/secrets/<name>/<key>` (no Kubernetes
 *   here); a missing or unquotable secret, a missing BGPFilter, or an invalid peer skips that
 *   session with a problem (never a weaker session).
 * - Graceful restart only when configured (nodeMeshMaxRestartTime / maxRestartTime): otherwise a
 *   stopped node's routes go at once (Cease) or at the hold time.
 * - External routers (router.ts, the lab's ToR stand-ins and inter-subnet router): eBGP or iBGP
 *   neighbours; `rrClient` + `nextHopSelf` make a reflector whose clients can resolve every next
 *   hop on their own subnet, and `skipNextHopsIn` keeps it from hair-pinning on-subnet routes.
 * - A config BIRD rejects is never installed; the running BIRD keeps its old one. BIRD keeps running
 *   across agent restarts (see driver.ts).
 */
export type { BirdBlock, BirdConfig, BirdConfigInput, BirdWorkload, PeerType, RenderedPeer } from './model.js';
export { renderBirdConfig } from './render.js';
export { birdInputFromMirror, secretRefs, type BgpMirror } from './inputs.js';
export { BirdWriter, birdPaths, type BirdPaths, type BirdWriterOptions, type WriteResult } from './writer.js';
export { BgpDriver, createBgpDriver, type BgpDriverOptions, type StatusStore } from './driver.js';
export {
  calicoNodeStatusFrom,
  formatPeerTable,
  parseBirdProtocols,
  parseBirdStatus,
  peersFromCalicoNodeStatus,
  type BgpSessionState,
  type BirdDaemonStatus,
  type PeerStatus,
} from './status.js';
export {
  renderRouterConfig,
  startExternalRouter,
  type ExternalRouter,
  type ExternalRouterOptions,
  type RouterNeighbor,
} from './router.js';
