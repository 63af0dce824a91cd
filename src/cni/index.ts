/**
 * CNI plugin `tessera-cni`, IPAM plugin `tessera-ipam`, and the CNI fast-path server the node agent
 * embeds.
 *
 * PUBLIC API
 *   startCniServer(options: CniServerOptions): Promise<CniServer>     // agent: fast path on a unix socket
 *   handleInvocation(mode: 'cni' | 'ipam', env, stdin, getDeps): Promise<CniReply>
 *   hostVethName(prefix, key), wepName(node, orchestrator, workload, endpoint), handleId(network, cid)
 *   buildWorkloadEndpoint(input), SUPPORTED_VERSIONS, CNI_ERR, TESSERA_ROUTE_PROTO
 *
 * Executables: `bin/tessera-cni` is the C shim (src/cni/shim, built by scripts/build-cni-shim.sh):
 * it forwards to the agent's socket (`agent_socket` in the network config) or execs main.ts.
 * `bin/tessera-ipam` runs ipam-main.ts.
 *
 * DESIGN (what a reviewer must check)
 * - Bad input (env, JSON, version, missing ipam, unknown pool, unknown pod) is rejected before any
 *   side effect: request.ts parses everything, add.ts does all reads before the first write.
 * - ADD registers one undo step per side effect (allocation, host veth incl. its peer and routes,
 *   WorkloadEndpoint); a single catch unwinds them, so a failed ADD leaves nothing behind.
 *   A SIGKILLed ADD can leave a leak (never a duplicate: IPAM is CAS-only); the runtime's DEL or
 *   `ipam check` + `releaseFromReport` cleans it. A retried ADD reuses its handle's addresses.
 * - DEL is idempotent and derives everything (veth name, handle, WEP name) from env + config.
 *   It deletes a WEP only when spec.containerID is the caller's.
 * - Kernel objects are recognisable: host veths carry the interface prefix (default "tsr"), host
 *   routes carry route protocol 80 ("tessera").
 * - Performance: no process starts on an ADD/DEL critical path in the server. Host-side scripts
 *   go to one persistent `ip -force -batch -` (jobs delimited by end markers); the pod-side
 *   `ip -n <netns> -batch <fifo>` is started (by a small bash helper, so the big Node process
 *   never forks) when the ADD begins and gets its script through a FIFO; the host veth is created
 *   while IPAM assigns; sysctls are written directly; the WEP is written in parallel. The server
 *   keeps the datastore connection warm and turns on IpamClient's hostCache (one CAS txn per
 *   assign, concurrent ADDs/DELs batched). See ip-runner.ts for the framing invariants.
 * - The shim never falls back to the TypeScript plugin after it has
 *   sent a request (that could run an ADD twice).
 */
export { startCniServer, encodeRequest, decodeRequest, type CniServer, type CniServerOptions } from './server.js';
export { handleInvocation, type DepsProvider, type PluginMode } from './dispatch.js';
export type { CniDeps, CniIpam } from './deps.js';
export type { CniCommand, CniReply, CniRequest, CniResult, NetConf } from './types.js';
export { hostVethName, wepName, handleId, podMac, DEFAULT_INTERFACE_PREFIX } from './naming.js';
export { buildWorkloadEndpoint, type WorkloadEndpointSpec, type PodInfo } from './wep.js';
export { SUPPORTED_VERSIONS, formatResult } from './version.js';
export { CNI_ERR, renderCniError } from './errors.js';
export { TESSERA_ROUTE_PROTO, HOST_VETH_MAC, GATEWAY_V4 } from './wiring-render.js';
