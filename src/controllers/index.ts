/**
 * kube-controllers: the bridge from the Kubernetes API to Tessera's datastore (Calico's
 * kube-controllers), one process per cluster (`tessera-kube-controllers`, main.ts).
 *
 * PUBLIC API
 *   KubeControllers (manager.ts): leader election + the controllers `default` turns on
 *   KubeInformer / slimFor / kubeListFn (informer.ts): list+watch with bookmarks, 410 relist, backoff
 *   KUBE_RESOURCES / KUBE_WRITES (kube-api.ts): the tables of Kubernetes API calls (RBAC is checked against them)
 *   EventRecorder (events.ts): Warning Events such as FailedValidation on a rejected NetworkPolicy
 *   readPendingLeaks / IPAM_GC_PENDING_KEY (ipam-gc.ts): leaks inside their grace period (`ipam check`)
 *
 * DESIGN (what a reviewer must check)
 * - The controllers write only to the datastore; to Kubernetes they write only Events
 *   (KUBE_WRITES); what they may read from Kubernetes is exactly KUBE_RESOURCES.
 * - Nothing acts before its informers have synced (an empty cache would read as "everything
 *   deleted"), and only the leader acts (leader.ts: a leased datastore key).
 * - Every controller is level-based: it compares the Kubernetes cache with the datastore and
 *   writes the difference, so a restart converges without duplicate or lost updates.
 * - Releases are by handle and sequence number (ipam-gc.ts, node.ts), never by address alone.
 */
export { KubeControllers, buildControllers, type KubeControllersOptions } from './manager.js';
export {
  KubeInformer,
  slimFor,
  kubeListFn,
  type ControllerInformer,
  type SlimObject,
  type WatchLike,
  type PageListFn,
} from './informer.js';
export { EventRecorder, kubeEventSink, type EventSink, type InvolvedObject } from './events.js';
export {
  KUBE_RESOURCES,
  KUBE_WRITES,
  collectionPath,
  type KubeResourceDef,
  type KubeResourceName,
} from './kube-api.js';
export {
  readPendingLeaks,
  IPAM_GC_PENDING_KEY,
  IpamGarbageCollector,
  type PendingLeak,
  type PendingLeaks,
} from './ipam-gc.js';
export { LEADER_KEY, LeaderElector } from './leader.js';
export { ControllerMetrics, startHealthServer } from './metrics.js';
export { MirrorController } from './mirror.js';
export { NodeController, autoHepName, DEFAULT_ALLOW_PROFILE } from './node.js';
export { FakeInformer } from './fake-informer.js';
export {
  defaultKubeControllersConfiguration,
  loadConfig,
  resolveConfig,
  parseDurationMs,
  type ControllersConfig,
} from './config.js';
