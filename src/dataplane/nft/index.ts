/**
 * nftables dataplane for policy: one `table inet tessera`.
 *
 * DESIGN (render.ts has the chain layout)
 * - Pure: `renderNft(model)` → NftState; `patchNft(prev, delta)` → the same without re-rendering
 *   what did not change (patch.ts); `diffNft(prev, next)` → only-the-changes script (a patched
 *   set's elements from the delta's NftSet.changes, else compared); `fullNftScript(state)` →
 *   whole-table rewrite; `parseNftJson` + `detectDrift` for resync.
 * - What the agent does each cycle (PolicyDriver): `nextNftState` patches the last programmed
 *   state when the calculator has a delta and renders in full otherwise; the periodic resync
 *   checks the kernel for drift, repairs it, and renders in full.
 * - Rendered chains, maps and names are cached in an NftRenderCache its owner keeps (the
 *   PolicyDriver); a full render drops what the table no longer uses. No module-level Map caches.
 * - Verdict plumbing: shared egress policy chains cannot `accept` (the peer endpoint's ingress chain
 *   still has to run in the same forward hook), so egress Allow and Pass set mark bits 0x10000/0x20000
 *   and `return`; the endpoint chain returns on ACCEPT, skips the rest of a tier on PASS, and drops at
 *   end of tier (defaultAction Deny) or after the profiles. Ingress Allow accepts directly (ingress is
 *   last). Deny drops directly. Endpoint chains clear both bits first.
 * - Runs of Allow-only policies in a tier are one (protocol . dport) vmap lookup (runs.ts): reviewers
 *   check that a bucket jumps to every run policy that can match its ports (the property test in
 *   test/policy-property.test.ts generates run-heavy worlds for this).
 * - Fail closed: interfaces `tsr*` not in the vmaps fall through to a drop.
 * - Each rule's comment starts with a hash of its body; drift detection compares those per chain.
 * - Reviewers check: diff ordering inside the transaction (diff.ts header), that every rule variant
 *   the renderer emits is equivalent to the IR rule (test/policy-property.test.ts runs the rendered
 *   rules through `interpretNft` against the reference evaluator), anti-spoofing.
 * - NftReconciler is the imperative shell; NftSession carries its transactions to a long-lived
 *   libnftables helper (bin/tessera-nft, helper/tessera-nft.c), or to `nft -f` when it is not built.
 */
export * from './model.js';
export { renderNft, chainNames, setNames, NftRenderCache, type RenderOptions } from './render.js';
export { patchNft, nextNftState, type ModelSource, type NextNftState } from './patch.js';
export { diffNft, fullNftScript, type NftDiffStats } from './diff.js';
export { parseNftJson, detectDrift, type ObservedNft } from './parse.js';
export { ruleText, ruleBody, ruleHash, shortHash } from './text.js';
export { interpretNft, interpretHooks, type NftPacket } from './interpret.js';
export { NftReconciler, type NftReconcilerOptions, type NftApplyResult } from './reconciler.js';
export { NftSession, type NftExec, type NftExecOptions, type NftSessionOptions } from './session.js';
