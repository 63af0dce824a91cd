/** Names derived from other names, shared by the CNI plugin (which writes them) and kube-controllers (which finds them). Pure. */

/** Calico escapes `-` as `--` in each segment so that the `-` separators stay unambiguous. */
const escapeSegment = (s: string): string => s.replace(/-/g, '--');

/** Calico's WEP name: `<node>-k8s-<pod>-<endpoint>` or `<node>-cni-<containerID>-<endpoint>`. */
export function wepName(node: string, orchestrator: 'k8s' | 'cni', workload: string, endpoint: string): string {
  return [node, orchestrator, workload, endpoint].map(escapeSegment).join('-');
}
