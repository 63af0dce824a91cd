/**
 * The `tessera` CLI: calicoctl's verbs over Tessera's datastore.
 *
 * DESIGN
 * - One file per verb in commands/, each `(args, deps: VerbDeps) => Promise<exitCode>`; deps carry
 *   the output sinks and a lazy datastore opener, so verbs are unit-tested on an in-memory store
 *   and `validate` never connects. program.ts maps argv onto verbs; main.ts wires the process.
 *   The command groups (ipam, policy, node, lab, demo, context) are verbs of the same shape (deps
 *   add a lazy raw Backend; `demo` also gets runCli); no command file touches commander or the
 *   process (program.test.ts checks both). `lab exec` alone hands its command the process's stdio.
 * - Nothing is written before everything is validated: -f verbs parse, default and validate every
 *   document (alone, then as a batch against the datastore's current objects) first. `apply`
 *   writes the whole batch in one atomic transaction, so a bad document leaves the datastore as
 *   it was. create/replace pre-check existence of the whole batch before the first write.
 * - Read-modify-write verbs (label, patch) use compare-and-swap on resourceVersion with bounded
 *   retry (cas.ts); replace uses the manifest's resourceVersion when it has one.
 * - Exit codes: 0 ok, 1 operation failed (validation: one line per problem with field path),
 *   2 usage. Stack traces only for non-Tessera errors and code 'bug'.
 * Reviewers: check that every new verb validates before its first write, and that messages quote
 * the object (`IPPool "p1"`, `NetworkPolicy "ns/name"`).
 */
export { runCli, buildProgram, reportError, type ProgramDeps } from './program.js';
export { formatResources, renderTable, cliKindName, type OutputFormat } from './format.js';
export { captureIO, processIO, type CliIO, type VerbDeps } from './io.js';
export type { CliStore, ResourceRef } from './store.js';
export { openCliStore, memoryCliStore } from './open-store.js';
export { runDatastoreDemo } from './demo-datastore.js';
