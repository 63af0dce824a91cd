/**
 * The lab's waits (etcd start, agent readiness) are sized for the host kernel. Inside the lab VM
 * (QEMU TCG: every instruction emulated, Node starts ~15x slower) scripts/vm/stage2.sh sets
 * TESSERA_LAB_TIMEOUT_SCALE so the same lab code waits long enough there.
 */
export function labTimeoutMs(ms: number, env: NodeJS.ProcessEnv = process.env): number {
  const f = Number(env['TESSERA_LAB_TIMEOUT_SCALE'] ?? '1');
  return Number.isFinite(f) && f >= 1 ? Math.round(ms * f) : ms;
}
