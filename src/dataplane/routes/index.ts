/**
 * Routes: calculate (pure) -> diff against `ip -json route show proto 80` (pure) -> one
 * `ip -batch` per cycle (RoutingReconciler). DESIGN: only proto-80 routes are ever deleted; unknown
 * device routes on workload interfaces are kept (the CNI plugin installs them before the agent
 * learns the endpoint); output depends only on current inputs.
 */
export * from './model.js';
export { calculateRoutes, RouteCalculator } from './calc.js';
export { diffRoutes, parseKernelRoutes, renderRoute } from './diff.js';
export { RoutingReconciler, type ApplyStats } from './reconciler.js';
