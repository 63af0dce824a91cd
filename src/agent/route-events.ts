/**
 * Which `ip monitor route` lines should start a route cycle (pure; the agent follows the monitor so
 * a hand-deleted Tessera route is repaired at once instead of at the next resync).
 *
 * - Any deletion: it may be one of ours (also when the kernel removes it with its device).
 * - A Tessera route (protocol 80) added by someone else, or by the agent itself: the cycle checks it.
 * - Not a workload's own host route (`<addr> dev <prefix>… proto 80`, no gateway): the CNI plugin
 *   writes one for every pod it wires, as the agent would. Reacting to it cost each local pod
 *   creation a second, no-op route cycle (~45 ms of agent CPU at 1,000 nodes).
 */
export function routeEventMatters(line: string, interfacePrefix: string): boolean {
  if (line.startsWith('Deleted')) return true;
  if (!/\bproto 80\b/.test(line)) return false;
  const workloadRoute =
    !line.includes(' via ') && line.includes(` dev ${interfacePrefix}`) && /^[0-9a-f.:]+ dev /i.test(line);
  return !workloadRoute;
}
