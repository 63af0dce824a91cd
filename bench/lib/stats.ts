/**
 * Small pure helpers shared by benchmarks: order statistics and the PASS/FAIL ratio lines.
 * No clock, no I/O: callers measure and print.
 */

/** The p-th percentile (0..100) by nearest rank; NaN for an empty list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export const max = (values: readonly number[]): number => (values.length === 0 ? Number.NaN : Math.max(...values));

export interface RatioCheck {
  label: string;
  numerator: number;
  denominator: number;
  /** Pass when numerator / denominator >= target. */
  target: number;
}

export function ratioOf(c: RatioCheck): number {
  return c.denominator > 0 ? c.numerator / c.denominator : Number.NaN;
}

export function passes(c: RatioCheck): boolean {
  return ratioOf(c) >= c.target;
}

/** `native cross-node / hand-wired   0.97  (target >= 0.95)  PASS` */
export function formatRatio(c: RatioCheck, width = 40): string {
  const r = ratioOf(c);
  return `${c.label.padEnd(width)} ${Number.isNaN(r) ? '  n/a' : r.toFixed(2).padStart(5)}  (target >= ${c.target.toFixed(2)})  ${passes(c) ? 'PASS' : 'FAIL'}`;
}
