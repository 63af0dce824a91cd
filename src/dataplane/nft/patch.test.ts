/**
 * patchNft must give exactly what a full render gives. Random worlds (local and remote pods, network
 * sets, policies with selectors, named ports, port runs) take random changes; after each one the state
 * the agent would program (nextNftState from the previous state) is compared with a full render of a
 * second calculator fed the same changes. The patch path must also actually be taken.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PolicyCalculator, type PolicyUpdate } from '../../policy/index.js';
import { diffNft, nextNftState, NftRenderCache, patchNft, renderNft } from './index.js';
import type { NftState } from './model.js';
import { ruleText } from './text.js';

const APPS = ['a', 'b', 'c', 'd'];
const NODES = ['local', 'r1', 'r2'];

const normal = (s: NftState) => ({
  sets: [...s.sets.values()].map((x) => [x.name, x.type, !!x.interval, [...x.elements].sort()]).sort(),
  maps: [...s.maps.values()].map((m) => [m.name, m.key ?? '', !!m.interval, [...m.elements].sort()]).sort(),
  chains: [...s.chains.values()].map((c) => [c.name, c.rules.map(ruleText)]).sort(),
});

const pod = (i: number, node: string, app: string, tier: string, ip = `10.1.${i >> 8}.${i & 255}`): PolicyUpdate => ({
  kind: 'WorkloadEndpoint',
  key: `ns${i % 2}/p${i}`,
  value: {
    name: `p${i}`,
    namespace: `ns${i % 2}`,
    node,
    interfaceName: `tsr${i}`,
    ipNetworks: [`${ip}/32`],
    labels: { app, tier },
    ports: [{ name: 'web', protocol: 'TCP', port: 8000 + (i % 3) }],
  },
});

const policy = (n: number, app: string, from: string, port: number, named: boolean): PolicyUpdate => ({
  kind: 'Policy',
  key: `ns${n % 2}/pol${n}`,
  value: {
    kind: 'NetworkPolicy',
    name: `pol${n}`,
    namespace: `ns${n % 2}`,
    spec: {
      selector: `app == "${app}"`,
      ingress: [
        {
          action: 'Allow',
          protocol: 'TCP',
          source: { selector: `tier == "${from}"`, namespaceSelector: 'all()' },
          destination: { ports: [named ? 'web' : port] },
        },
        ...(n % 3 === 0 ? [{ action: 'Deny' as const, source: { selector: 'role == "bad"' } }] : []),
      ],
      egress: n % 4 === 0 ? [{ action: 'Allow', destination: { selector: `app == "${from}"` } }] : [],
    },
  },
});

const change = fc.oneof(
  fc.record({
    k: fc.constant('pod' as const),
    i: fc.nat(12),
    node: fc.constantFrom(...NODES),
    app: fc.constantFrom(...APPS),
    tier: fc.constantFrom(...APPS),
  }),
  fc.record({ k: fc.constant('readdress' as const), i: fc.nat(30) }),
  fc.record({ k: fc.constant('delete' as const), i: fc.nat(30) }),
  fc.record({ k: fc.constant('netset' as const), n: fc.nat(2), prefix: fc.boolean(), tier: fc.constantFrom(...APPS) }),
  fc.record({
    k: fc.constant('policy' as const),
    n: fc.nat(12),
    app: fc.constantFrom(...APPS),
    from: fc.constantFrom(...APPS),
    port: fc.integer({ min: 80, max: 83 }),
    named: fc.boolean(),
  }),
);
type Change = typeof change extends fc.Arbitrary<infer T> ? T : never;

function toUpdate(c: Change, pods: Map<number, PolicyUpdate>): PolicyUpdate | undefined {
  switch (c.k) {
    case 'pod': {
      const u = pod(c.i, c.node, c.app, c.tier);
      pods.set(c.i, u);
      return u;
    }
    case 'readdress': {
      const old = pods.get(c.i);
      if (!old || !old.value || old.kind !== 'WorkloadEndpoint') return undefined;
      const u = pod(
        c.i,
        old.value.node,
        old.value.labels?.['app'] ?? 'a',
        old.value.labels?.['tier'] ?? 'a',
        `10.2.0.${c.i}`,
      );
      pods.set(c.i, u);
      return u;
    }
    case 'delete':
      if (!pods.has(c.i)) return undefined;
      pods.delete(c.i);
      return { kind: 'WorkloadEndpoint', key: `ns${c.i % 2}/p${c.i}`, value: null };
    case 'netset':
      // Namespaced, so `namespaceSelector: all()` rules select it; a /24 turns hash sets into interval sets.
      return {
        kind: 'NetworkSet',
        key: `ns${c.n % 2}/set${c.n}`,
        value: {
          name: `set${c.n}`,
          namespace: `ns${c.n % 2}`,
          nets: [c.prefix ? `192.168.${c.n}.0/24` : `192.168.${c.n}.7/32`],
          labels: { tier: c.tier },
        },
      };
    case 'policy':
      return policy(c.n, c.app, c.from, c.port, c.named);
  }
}

/** A diff script as sorted facts: element lines split into one fact per element, other lines as they are. */
function scriptFacts(script: string): string[] {
  return script
    .split('\n')
    .filter(Boolean)
    .flatMap((l) => {
      const m = /^(add|delete) element (\S+ \S+ \S+) \{ (.*) \}$/.exec(l);
      return m ? m[3]!.split(', ').map((e) => `${m[1]} ${m[2]} ${e}`) : [l];
    })
    .sort();
}

test('nextNftState (patch when possible) equals a full render after every change', () => {
  let patched = 0;
  let withChanges = 0;
  let shapeFallbacks = 0;
  fc.assert(
    fc.property(fc.array(change, { minLength: 5, maxLength: 40 }), (changes) => {
      const agent = new PolicyCalculator({ nodeName: 'local' });
      const reference = new PolicyCalculator({ nodeName: 'local' });
      const pods = new Map<number, PolicyUpdate>();
      const seed: PolicyUpdate[] = [
        policy(0, 'a', 'b', 80, false),
        policy(1, 'b', 'a', 81, true),
        pod(100, 'local', 'a', 'b'),
        pod(101, 'r1', 'b', 'a'),
      ];
      for (const u of seed) {
        agent.apply(u);
        reference.apply(u);
      }
      let state: NftState | undefined = renderNft(agent.resolve());
      // Fed everything but resolved only at the end: every set built from scratch, nothing patched.
      const squashed = new PolicyCalculator({ nodeName: 'local' });
      for (const u of seed) squashed.apply(u);
      for (const c of changes) {
        const u = toUpdate(c, pods);
        if (!u) continue;
        agent.apply(u);
        reference.apply(u);
        squashed.apply(u);
        const next = nextNftState(agent, state);
        if (next.mode === 'patch') patched++;
        else if (c.k === 'netset') shapeFallbacks++;
        // Element changes carried in the delta (NftSet.changes) equal a full comparison.
        for (const v of next.state.sets.values()) if (v.changes && state?.sets.get(v.name) !== v) withChanges++;
        const copied = {
          ...next.state,
          sets: new Map(
            [...next.state.sets].map(([k, v]) => [
              k,
              { name: v.name, type: v.type, interval: v.interval, elements: [...v.elements] },
            ]),
          ),
        };
        assert.deepEqual(
          scriptFacts(diffNft(state, next.state).script),
          scriptFacts(diffNft(state, copied).script),
          `diff after ${JSON.stringify(c)}`,
        );
        assert.deepEqual(
          normal(next.state),
          normal(renderNft(reference.resolve())),
          `after ${JSON.stringify(c)} (${next.mode})`,
        );
        state = next.state;
      }
      assert.deepEqual(
        normal(state),
        normal(renderNft(squashed.resolve())),
        'the patched state equals one built from scratch',
      );
    }),
    { numRuns: 150 },
  );
  assert.ok(patched > 100, `the patch path was taken ${patched} times`);
  assert.ok(withChanges > 50, `sets patched with their element changes: ${withChanges}`);
  assert.ok(shapeFallbacks > 0, 'some network set changes turned a hash set into an interval set');
});

test('a change the patch cannot express falls back to a full render', () => {
  const calc = new PolicyCalculator({ nodeName: 'local' });
  for (const u of [policy(1, 'a', 'b', 80, false), pod(1, 'local', 'a', 'b'), pod(2, 'r1', 'b', 'a')]) calc.apply(u);
  const s0 = renderNft(calc.resolve());
  // Relabelled so that its old policy list (dispatch chains) is no longer used by anyone: the full
  // render drops those chains, so the patch must not keep them.
  calc.apply(pod(1, 'local', 'd', 'b'));
  assert.equal(nextNftState(calc, s0).mode, 'full', 'an orphaned dispatch chain needs a full render');
  const s1 = renderNft(calc.resolve());
  calc.apply(pod(3, 'local', 'a', 'a'));
  assert.equal(nextNftState(calc, s1).mode, 'patch', 'a new local pod is a patch');
  calc.apply(policy(5, 'a', 'a', 90, false));
  assert.equal(nextNftState(calc, s1).mode, 'full', 'a policy change renders in full');
  calc.apply({ kind: 'WorkloadEndpoint', key: 'ns1/p1', value: null });
  assert.equal(nextNftState(calc, s1).mode, 'full', 'a local pod removed renders in full');
  const s2 = renderNft(calc.resolve());
  // A /24 joining a selector turns its hash set into an interval set: not patchable.
  calc.apply({
    kind: 'NetworkSet',
    key: 'ns1/g',
    value: { name: 'g', namespace: 'ns1', nets: ['192.168.0.0/24'], labels: { tier: 'a' } },
  });
  const delta = calc.resolveDelta();
  assert.ok(delta, 'a network set is a delta for the calculator');
  assert.equal(patchNft(s2, delta), undefined, 'but the set changed shape');
});

test('the render cache keeps what the table uses: no size limit, a full render drops the rest', () => {
  const calc = new PolicyCalculator({ nodeName: 'local' });
  const cache = new NftRenderCache();
  for (let i = 0; i < 8; i++) calc.apply(pod(i, 'local', APPS[i % 4]!, APPS[(i + 1) % 4]!));
  for (let n = 0; n < 12; n++) calc.apply(policy(n, APPS[n % 4]!, APPS[(n + 2) % 4]!, 80 + n, n % 2 === 0));
  let state = nextNftState(calc, undefined, false, cache).state;
  const full = cache.sizes();
  assert.ok((full['dispatchChains'] ?? 0) > 0 && (full['names.policy'] ?? 0) > 0, JSON.stringify(full));
  // The same world rendered again (full) keeps exactly the same entries, and the same chain objects.
  const again = nextNftState(calc, state, true, cache).state;
  assert.deepEqual(cache.sizes(), full);
  for (const [name, c] of state.chains) if (name.startsWith('d')) assert.equal(again.chains.get(name), c, name);
  // Every policy deleted: the next full render forgets their chains, runs and names.
  for (let n = 0; n < 12; n++) calc.apply({ kind: 'Policy', key: `ns${n % 2}/pol${n}`, value: null });
  state = nextNftState(calc, again, false, cache).state;
  const after = cache.sizes();
  assert.equal(after['names.policy'], 0, JSON.stringify(after));
  assert.equal(after['runMaps'], 0);
  assert.ok((after['dispatchChains'] ?? 0) < (full['dispatchChains'] ?? 0), JSON.stringify(after));
  assert.deepEqual(normal(state), normal(renderNft(calc.resolve())), 'a cached render equals one from a fresh cache');
});
