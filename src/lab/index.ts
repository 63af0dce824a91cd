/**
 * The lab: a whole multi-node cluster out of network namespaces on one machine.
 *
 * DESIGN
 * - Names and addresses come from a pure plan (plan.ts): `<lab>-fabric` (one bridge per subnet),
 *   `<lab>-router` (K > 1 subnets), `<lab>-node-<i>` hosts, `<lab>-pod-<ns>-<name>` pods,
 *   `<lab>-rtr-<name>` external BGP routers (`lab router add`, routers.ts).
 * - --routing bgp: agents run with `--routing bgp` (each runs BIRD in its node netns, files under
 *   <state-dir>/bird). With --encapsulation none and K > 1 the inter-subnet router runs BIRD as a
 *   route reflector with next hop self (routers.ts says why); `lab node stop` also stops the node's BIRD.
 * - Cleanup invariant: every netns / daemon is recorded in /run/tessera/labs/<lab>/state.json (pods:
 *   pods/<ns>.<name>.json) BEFORE it is created. `labDown` unions that record with a name sweep of
 *   /var/run/netns (not sweeping labs whose name extends ours) and a /proc sweep for processes whose
 *   argv names the lab dir, so it also cleans up after a killed `lab up`. Reviewers: any new
 *   resource must be recorded first, and must live in a lab netns or name the lab dir in its argv.
 * - Nothing touches the root netns' links, routes or firewall. Root-netns processes: the etcd
 *   keeper (owns etcd via pdeathsig) only. Hosts reach etcd via socat forwarders on
 *   127.0.0.1:2379 (+10 per member) inside each host netns -> etcd's unix socket.
 * - Pods are wired by the real CNI plugin, invoked as a runtime would; servers are socat (TCP echo,
 *   UDP echo). Probes run one Node process per source pod, all targets concurrently.
 * - Concurrent CLI processes on one lab serialise state changes with a lock file (store.ts).
 * - The stand-in Kubernetes API (kubeapi/, lab only) runs as a root-netns daemon on 127.0.0.1 and
 *   on `<dir>/kubeapi.sock`, storing under `/registry-tessera/` in the lab etcd; `lab up` writes
 *   `<dir>/kubeconfig` and registers a Node per lab node; `lab pod create` creates the Pod there
 *   first, then runs CNI ADD and writes the status, as a kubelet would (kube.ts).
 */
export * from './plan.js';
export * from './state.js';
export * from './matrix.js';
export { labRoot, labDir, listLabNames, readLabState, readPods, readPod } from './store.js';
export { labUp, labDown, labStatusOf, loadLab, resolveLabName, nodeStart, nodeStop, agentStatuses } from './lab.js';
export type { LabUpOptions, LabEnvOptions, LabDownResult } from './lab.js';
export { podCreate, podDelete, findPod, runCni } from './pods.js';
export type { PodCreateOptions } from './pods.js';
export { probePods, matrix, podAddress, podRef } from './connectivity.js';
export type { ProbeOptions, PodProbeResult } from './connectivity.js';
export { handWirePod } from './handwire.js';
export { runDemo, DEMO_POLICY } from './demo.js';
export { LabDatastore } from './resources.js';
export { routerAdd, routerDelete, subnetRouterNeedsBgp, subnetRouterPeers, DEFAULT_NODE_AS } from './routers.js';
export type { RouterAddOptions } from './routers.js';
export {
  planExternalRouter,
  externalRouterNetns,
  parseAsNumberText,
  SUBNET_ROUTER_NAME,
  ROUTER_NAME_RE,
} from './router-plan.js';
export type { ExternalRouterPlan } from './router-plan.js';
export { startEtcd, startEtcdCluster, startEtcdProxy, forwardTcpToUnix } from './etcd.js';
export { KubeApiServer, KUBE_RESOURCES, KUBE_KEY_PREFIX, STAND_IN_NOTE, renderKubeconfig } from './kubeapi/index.js';
export type { KubeApiServerOptions, ListenOptions as KubeApiListenOptions, KubeResource } from './kubeapi/index.js';
export { LabKubeClient, startKubeApi, waitKubeApi } from './kube.js';
export type { KubeApiState } from './state.js';
export { parseHostPorts, nodeListen, nodeUnlisten, readListeners, hostEndpointRef, nodePort } from './host-ports.js';
export type { HostPort, HostListener } from './host-ports.js';
export { isVmLab, vmLabUp, vmLabDown, vmRun, requireVmRecord, parseMemory, vmBoot } from './vm/runner.js';
export { vmExec, type VmExecOptions } from './vm/exec.js';
export type { VmRecord, ForwardIO } from './vm/runner.js';
export { kernelLacksIpip } from './vm/kernel-check.js';
