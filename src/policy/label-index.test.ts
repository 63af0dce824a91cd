import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSelector } from '../api/selector/index.js';
import { compileSelector } from '../api/selector/index.js';
import { LabelIndex } from './label-index.js';
import type { Labels } from './types.js';

/** A tiny deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SELECTORS = [
  'app == "a"',
  'app == "b" && tier == "x"',
  'tier == "y" && !has(app)',
  'app != "a"',
  'has(tier)',
  'all()',
  'app in {"a", "b"}',
  'team == "t1" && app == "a"',
  'team == "t2"',
  '!(app == "b")',
];

test('label index: members always equal a brute-force evaluation, whatever the order of changes', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const r = rng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
    const idx = new LabelIndex();
    const items = new Map<string, { own: Labels; parents: string[] }>();
    const parents = new Map<string, Labels>();
    const refs = new Map<string, number>();
    const randLabels = (): Labels => {
      const l: Record<string, string> = {};
      if (r() < 0.7) l.app = pick(['a', 'b', 'c']);
      if (r() < 0.5) l.tier = pick(['x', 'y']);
      return l;
    };
    for (let step = 0; step < 300; step++) {
      const op = r();
      if (op < 0.4) {
        const id = `i${Math.floor(r() * 15)}`;
        const ps = r() < 0.3 ? [pick(['p1', 'p2'])] : [];
        const own = randLabels();
        items.set(id, { own, parents: ps });
        idx.upsertItem(id, own, ps);
      } else if (op < 0.5) {
        const id = `i${Math.floor(r() * 15)}`;
        items.delete(id);
        idx.removeItem(id);
      } else if (op < 0.65) {
        const p = pick(['p1', 'p2']);
        const l: Labels | undefined =
          r() < 0.2 ? undefined : { team: pick(['t1', 't2']), ...(r() < 0.3 ? { app: 'b' } : {}) };
        if (l) parents.set(p, l);
        else parents.delete(p);
        idx.setParent(p, l);
      } else if (op < 0.85) {
        const sel = pick(SELECTORS);
        refs.set(sel, (refs.get(sel) ?? 0) + 1);
        idx.addSelector(sel, parseSelector(sel));
      } else {
        const sel = pick(SELECTORS);
        if ((refs.get(sel) ?? 0) > 0) refs.set(sel, refs.get(sel)! - 1);
        idx.releaseSelector(sel);
      }
      for (const [sel, n] of refs) {
        if (n <= 0) continue;
        const match = compileSelector(parseSelector(sel));
        const want = [...items]
          .filter(([, it]) => {
            const eff: Record<string, string> = {};
            for (const p of it.parents) Object.assign(eff, parents.get(p));
            return match(Object.assign(eff, it.own));
          })
          .map(([id]) => id)
          .sort();
        assert.deepEqual([...idx.members(sel)].sort(), want, `seed ${seed} step ${step}: members of ${sel}`);
      }
    }
  }
});

test('label index: an item meets only the selectors anchored on its labels (old or new) and the unanchored ones', () => {
  const idx = new LabelIndex();
  for (let i = 0; i < 100; i++) idx.addSelector(`svc == "s${i}"`, parseSelector(`svc == "s${i}"`));
  idx.addSelector('has(svc)', parseSelector('has(svc)'));
  let before = idx.evaluations;
  idx.upsertItem('e', { svc: 's7' }, []);
  assert.equal(idx.evaluations - before, 2); // svc == "s7" and has(svc)
  before = idx.evaluations;
  idx.upsertItem('e', { svc: 's8' }, []);
  assert.equal(idx.evaluations - before, 3); // s8 (new), s7 (old: leaves it), has(svc)
  assert.deepEqual([...idx.members('svc == "s7"')], []);
  assert.deepEqual([...idx.members('svc == "s8"')], ['e']);
});
