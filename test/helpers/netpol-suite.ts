/**
 * The NetworkPolicy conformance suite (../shared/conformance/netpol-public.json, see netpol.md):
 * its shape, where it lives, and placeholder substitution. Shared by the pure-model runner
 * (policy-conformance.test.ts) and the live-lab runner (conformance-live.test.ts).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cidrNetwork, formatCidr, parseIp } from '../../src/lib/ip.js';

export interface SuiteProbe {
  port: number;
  protocol: 'TCP' | 'UDP' | 'SCTP';
  grid: string[];
}
export interface LabelChange {
  set?: Record<string, string>;
  remove?: string[];
}
export interface SuiteStep<P> {
  deleteAllPolicies?: boolean;
  deletePolicies?: { namespace: string; name: string }[];
  setup?: { podLabels?: (LabelChange & { pod: string })[]; namespaceLabels?: (LabelChange & { namespace: string })[] };
  policies?: P[];
  probes: SuiteProbe[];
}
export interface SuiteCase<P> extends Partial<SuiteStep<P>> {
  id: string;
  name: string;
  steps?: SuiteStep<P>[];
}
export interface Suite<P> {
  model: {
    namespaces: Record<string, { labels: Record<string, string> }>;
    pods: { ns: string; name: string; labels: Record<string, string> }[];
    namedPorts: { name: string; port: number; protocol: string }[];
    podOrder: string[];
  };
  cases: SuiteCase<P>[];
}

/** `<repo root>/../shared/conformance/netpol-public.json`, where CI and sessions place shared/. */
export const SUITE_FILE = join(
  fileURLToPath(new URL('../..', import.meta.url)),
  '..',
  'shared',
  'conformance',
  'netpol-public.json',
);

export function loadSuite<P>(): Suite<P> {
  assert.ok(
    existsSync(SUITE_FILE),
    `conformance suite "${SUITE_FILE}" is missing (expected at <repo root>/../shared/conformance/netpol-public.json)`,
  );
  return JSON.parse(readFileSync(SUITE_FILE, 'utf8')) as Suite<P>;
}

/** A case as a list of steps (a single-step case has its fields at the top level). */
export function stepsOf<P>(c: SuiteCase<P>): SuiteStep<P>[] {
  return c.steps ?? [{ ...c, probes: c.probes ?? [] }];
}

/** Replaces {{podIP ns/pod}} and {{podNet ns/pod LEN}} with the pods' real addresses. */
export function substitute(text: string, ips: ReadonlyMap<string, string>): string {
  return text
    .replace(/\{\{podIP ([^}]+)\}\}/g, (_, p: string) => ips.get(p.trim()) as string)
    .replace(/\{\{podNet ([^ ]+) (\d+)\}\}/g, (_, p: string, len: string) =>
      formatCidr(cidrNetwork({ ...parseIp(ips.get(p) as string), prefix: Number(len) })),
    );
}
