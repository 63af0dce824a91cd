/**
 * The connectivity matrix as data and as a table. Pure.
 * Row = source pod, column = destination pod; the diagonal (a pod to itself) is not probed.
 */
import type { PortProtocol } from './plan.js';

export interface MatrixResult {
  port: number;
  protocol: PortProtocol;
  pods: string[];
  /** allowed[from][to]; absent for from === to. */
  allowed: Record<string, Record<string, boolean>>;
}

export function emptyMatrix(pods: readonly string[], port: number, protocol: PortProtocol): MatrixResult {
  const sorted = [...pods].sort();
  const allowed: Record<string, Record<string, boolean>> = {};
  for (const from of sorted) allowed[from] = {};
  return { port, protocol, pods: sorted, allowed };
}

export function countAllowed(m: MatrixResult): { allowed: number; total: number } {
  let allowed = 0;
  let total = 0;
  for (const from of m.pods) {
    for (const to of m.pods) {
      if (from === to) continue;
      total++;
      if (m.allowed[from]?.[to] === true) allowed++;
    }
  }
  return { allowed, total };
}

const YES = '✓';
const NO = '✗';
const SELF = '·';

/**
 * Columns are numbered (pod names are long); each row starts with its number and name, so the
 * number in a column header finds the destination's row.
 */
export function formatMatrix(m: MatrixResult): string {
  const n = m.pods.length;
  const numW = String(n).length;
  const nameW = Math.max(4, ...m.pods.map((p) => p.length));
  const colW = Math.max(2, numW + 1);
  const pad = (s: string, w: number) => s + ' '.repeat(Math.max(0, w - [...s].length));
  const lpad = (s: string, w: number) => ' '.repeat(Math.max(0, w - [...s].length)) + s;
  const lines: string[] = [];
  lines.push(`${m.protocol}/${m.port}: row = from, column = to (${YES} connected, ${NO} blocked)`);
  const head = `${' '.repeat(numW)}  ${pad('', nameW)} ${m.pods.map((_, j) => lpad(String(j + 1), colW)).join('')}`;
  lines.push(head.trimEnd());
  m.pods.forEach((from, i) => {
    const cells = m.pods.map((to) => lpad(from === to ? SELF : m.allowed[from]?.[to] ? YES : NO, colW)).join('');
    lines.push(`${lpad(String(i + 1), numW)}  ${pad(from, nameW)} ${cells}`);
  });
  const c = countAllowed(m);
  lines.push(`${c.allowed}/${c.total} pairs connected`);
  return lines.join('\n');
}

/** Pairs whose result differs between two matrices over the same pods: what a policy changed. */
export function diffMatrices(
  before: MatrixResult,
  after: MatrixResult,
): { from: string; to: string; before: boolean; after: boolean }[] {
  const out: { from: string; to: string; before: boolean; after: boolean }[] = [];
  for (const from of after.pods) {
    for (const to of after.pods) {
      if (from === to) continue;
      const b = before.allowed[from]?.[to] === true;
      const a = after.allowed[from]?.[to] === true;
      if (a !== b) out.push({ from, to, before: b, after: a });
    }
  }
  return out;
}
