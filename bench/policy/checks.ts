/**
 * PASS/FAIL lines for bench-policy targets, one format for "at most" latencies and "at least"
 * ratios. Pure: callers measure and print.
 */
export interface TargetCheck {
  label: string;
  value: number;
  target: number;
  /** Printed after value and target: 'ms', 'MiB', '' for ratios. */
  unit: string;
  direction: 'at-most' | 'at-least';
}

export function checkPasses(c: TargetCheck): boolean {
  if (!Number.isFinite(c.value)) return false;
  return c.direction === 'at-most' ? c.value <= c.target : c.value >= c.target;
}

const num = (v: number, unit: string): string =>
  Number.isFinite(v) ? (unit === '' ? v.toFixed(2) : v.toFixed(1)) : 'n/a';

/** `add one pod p99 (event -> kernel)          38.2 ms  (target <= 50 ms)  PASS` */
export function formatCheck(c: TargetCheck, width = 52): string {
  const u = c.unit === '' ? '' : ` ${c.unit}`;
  const value = `${num(c.value, c.unit)}${u}`;
  return `${c.label.padEnd(width)} ${value.padStart(10)}  (target ${c.direction === 'at-most' ? '<=' : '>='} ${c.target}${u})  ${checkPasses(c) ? 'PASS' : 'FAIL'}`;
}

/** `p50 12.3 ms, p99 45.6 ms` */
export function spread(xs: readonly number[], pct: (xs: readonly number[], p: number) => number): string {
  return `p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms (n=${xs.length})`;
}
