/**
 * Incremental selector → member index. Items (endpoints, network sets) have their own labels plus
 * labels inherited from parents (profiles), own labels winning, as in Felix.
 * Cost model (what a reviewer must check): an item change evaluates only that item, and only against
 * the selectors it can satisfy (or stop satisfying): a selector that requires some `key == value`
 * is filed under that pair (its anchor), so an item meets only the selectors anchored on one of its
 * labels (new or old) plus those with no anchor; a new selector evaluates every item once (only the
 * candidates holding its rarest required pair); a parent (profile) change re-evaluates only that
 * parent's children. Selectors are refcounted so policies sharing a selector share one entry.
 * Why anchors: a cold agent meets 1,000 policies (2,000 selectors) before 150k endpoints (keys list
 * in that order), and evaluating every endpoint against every selector took minutes.
 */
import { compileSelector, type Selector } from '../api/selector/index.js';
import type { Labels } from './types.js';

type Matcher = (labels: Labels) => boolean;

interface Item {
  own: Labels;
  parents: readonly string[];
  effective: Labels;
}

interface IndexedSelector {
  match: Matcher;
  refs: number;
  members: Set<string>;
  /** A `key == value` every member must have (filed in `anchored`), if the selector requires one. */
  anchor?: { key: string; value: string };
}

export class LabelIndex {
  private readonly items = new Map<string, Item>();
  private readonly parents = new Map<string, Labels>();
  private readonly children = new Map<string, Set<string>>();
  private readonly selectors = new Map<string, IndexedSelector>();
  /** Selector key -> the items whose membership or addresses changed; undefined: all of them. */
  private readonly dirty = new Map<string, Set<string> | undefined>();
  /** Items whose membership in some selector changed since the last `takeChangedItems()`. */
  private readonly changedItems = new Set<string>();
  /**
   * `key` → `value` → items whose effective labels have it: lets a new `a == "b" && ...` selector
   * skip most items. Kept only for the keys in `indexedKeys`: those some selector's `==` named (the
   * index for a key is built by one pass over the items the first time a selector asks for it).
   * An endpoint's other labels (namespace, orchestrator, ...) are never indexed: at 150k
   * endpoints that upkeep was a large share of a cold start.
   */
  private readonly byLabel = new Map<string, Map<string, Set<string>>>();
  private readonly indexedKeys = new Set<string>();
  /** Anchor `key` → `value` → selector keys requiring it; selectors without an anchor: `unanchored`. */
  private readonly anchored = new Map<string, Map<string, Set<string>>>();
  private readonly unanchored = new Set<string>();
  /** Selector evaluations performed so far (tests use it to check incrementality). */
  evaluations = 0;

  upsertItem(id: string, own: Labels, parents: readonly string[]): void {
    const prev = this.items.get(id);
    if (prev) for (const p of prev.parents) this.children.get(p)?.delete(id);
    for (const p of parents) {
      let set = this.children.get(p);
      if (!set) this.children.set(p, (set = new Set()));
      set.add(id);
    }
    const item: Item = { own, parents, effective: this.computeLabels(own, parents) };
    if (prev) this.unindexLabels(id, prev.effective);
    this.indexLabels(id, item.effective);
    this.items.set(id, item);
    if (prev && sameLabels(prev.effective, item.effective)) return;
    this.reevaluate(id, item.effective, prev?.effective);
  }

  removeItem(id: string): void {
    const prev = this.items.get(id);
    if (!prev) return;
    for (const p of prev.parents) this.children.get(p)?.delete(id);
    this.items.delete(id);
    this.unindexLabels(id, prev.effective);
    for (const [key, s] of this.selectors) if (s.members.delete(id)) this.markDirty(key, id);
    this.changedItems.add(id);
  }

  /** Sets (or with `undefined` removes) a parent's labels and re-evaluates its children only. */
  setParent(id: string, labels: Labels | undefined): void {
    const prev = this.parents.get(id);
    if (labels === undefined) this.parents.delete(id);
    else this.parents.set(id, labels);
    if (prev !== undefined && labels !== undefined && sameLabels(prev, labels)) return;
    for (const child of this.children.get(id) ?? []) {
      const item = this.items.get(child);
      if (!item) continue;
      const effective = this.computeLabels(item.own, item.parents);
      if (sameLabels(effective, item.effective)) continue;
      this.unindexLabels(child, item.effective);
      this.indexLabels(child, effective);
      const before = item.effective;
      item.effective = effective;
      this.reevaluate(child, effective, before);
    }
  }

  /** Adds a reference to `key` (canonical selector text); evaluates all items only on first reference. */
  addSelector(key: string, selector: Selector): void {
    const s = this.selectors.get(key);
    if (s) {
      s.refs++;
      return;
    }
    const match = compileSelector(selector);
    const members = new Set<string>();
    const { candidates, anchor } = this.candidates(selector);
    if (candidates) {
      for (const id of candidates) {
        this.evaluations++;
        if (match((this.items.get(id) as Item).effective)) members.add(id);
      }
    } else {
      for (const [id, item] of this.items) {
        this.evaluations++;
        if (match(item.effective)) members.add(id);
      }
    }
    this.selectors.set(key, { match, refs: 1, members, ...(anchor ? { anchor } : {}) });
    if (anchor) {
      let values = this.anchored.get(anchor.key);
      if (!values) this.anchored.set(anchor.key, (values = new Map()));
      let keys = values.get(anchor.value);
      if (!keys) values.set(anchor.value, (keys = new Set()));
      keys.add(key);
    } else {
      this.unanchored.add(key);
    }
    this.markDirty(key);
    for (const id of members) this.changedItems.add(id);
  }

  /** Adds a reference to an already indexed selector; false (nothing done) when `key` is not indexed. */
  refSelector(key: string): boolean {
    const s = this.selectors.get(key);
    if (!s) return false;
    s.refs++;
    return true;
  }

  releaseSelector(key: string): void {
    const s = this.selectors.get(key);
    if (!s) return;
    if (--s.refs <= 0) {
      this.selectors.delete(key);
      if (s.anchor) {
        const values = this.anchored.get(s.anchor.key);
        const keys = values?.get(s.anchor.value);
        if (keys?.delete(key) && keys.size === 0) {
          values?.delete(s.anchor.value);
          if (values?.size === 0) this.anchored.delete(s.anchor.key);
        }
      } else {
        this.unanchored.delete(key);
      }
      this.markDirty(key);
      for (const id of s.members) this.changedItems.add(id);
    }
  }

  members(key: string): ReadonlySet<string> {
    return this.selectors.get(key)?.members ?? EMPTY;
  }

  hasSelector(key: string): boolean {
    return this.selectors.has(key);
  }

  labelsOf(id: string): Labels | undefined {
    return this.items.get(id)?.effective;
  }

  /** Marks every selector containing `id` dirty (its addresses or ports changed, not its labels). */
  touchItem(id: string): void {
    for (const [key, s] of this.selectors) if (s.members.has(id)) this.markDirty(key, id);
  }

  /** Items whose membership in any selector changed since the last call (a superset is allowed). */
  takeChangedItems(): Set<string> {
    const out = new Set(this.changedItems);
    this.changedItems.clear();
    return out;
  }

  /**
   * Selector keys whose membership (or a member's addresses) changed since the last call, each with
   * the items concerned, or undefined when the selector was added or released as a whole.
   */
  takeDirty(): Map<string, ReadonlySet<string> | undefined> {
    const out = new Map(this.dirty);
    this.dirty.clear();
    return out;
  }

  private markDirty(key: string, id?: string): void {
    if (id === undefined) {
      this.dirty.set(key, undefined);
      return;
    }
    if (!this.dirty.has(key)) this.dirty.set(key, new Set([id]));
    else this.dirty.get(key)?.add(id);
  }

  /**
   * Items that can match `s`: those having the rarest `key == value` the selector requires (that
   * pair is the selector's anchor); undefined when it requires none.
   */
  private candidates(s: Selector): {
    candidates?: ReadonlySet<string> | undefined;
    anchor?: { key: string; value: string } | undefined;
  } {
    const eqs = s.kind === 'eq' ? [s] : s.kind === 'and' ? s.operands.filter((o) => o.kind === 'eq') : [];
    let best: ReadonlySet<string> | undefined;
    let anchor: { key: string; value: string } | undefined;
    for (const e of eqs) {
      if (e.kind !== 'eq') continue;
      if (!this.indexedKeys.has(e.key)) this.indexKey(e.key);
      const set = this.byLabel.get(e.key)?.get(e.value) ?? EMPTY;
      if (!best || set.size < best.size) {
        best = set;
        anchor = { key: e.key, value: e.value };
      }
    }
    return { candidates: best, anchor };
  }

  /** Starts keeping `byLabel` for `key`: files every item holding it. */
  private indexKey(key: string): void {
    this.indexedKeys.add(key);
    for (const [id, item] of this.items) {
      if (!Object.prototype.hasOwnProperty.call(item.effective, key)) continue;
      this.fileLabel(id, key, item.effective[key] as string);
    }
  }

  private fileLabel(id: string, k: string, v: string): void {
    let values = this.byLabel.get(k);
    if (!values) this.byLabel.set(k, (values = new Map()));
    let set = values.get(v);
    if (!set) values.set(v, (set = new Set()));
    set.add(id);
  }

  // Keyed key → value → items: no `key=value` string is built per label per update.
  private indexLabels(id: string, labels: Labels): void {
    const keys = this.indexedKeys;
    if (keys.size === 0) return;
    for (const k in labels) {
      if (keys.has(k)) this.fileLabel(id, k, labels[k] as string);
    }
  }

  private unindexLabels(id: string, labels: Labels): void {
    const keys = this.indexedKeys;
    if (keys.size === 0) return;
    for (const k in labels) {
      if (!keys.has(k)) continue;
      const values = this.byLabel.get(k);
      const v = labels[k] as string;
      const set = values?.get(v);
      if (set?.delete(id) && set.size === 0) {
        values?.delete(v);
        if (values?.size === 0) this.byLabel.delete(k);
      }
    }
  }

  private computeLabels(own: Labels, parents: readonly string[]): Labels {
    if (parents.length === 0) return own;
    const out: Record<string, string> = {};
    for (const p of parents) Object.assign(out, this.parents.get(p));
    return Object.assign(out, own);
  }

  /**
   * Re-evaluates `id` against the selectors its labels can satisfy (anchored on one of `labels`)
   * or stop satisfying (anchored on a pair of `before` that `labels` no longer has), and the
   * unanchored ones. Any other selector requires a pair the item has neither now nor before, so
   * the item was and stays outside it. Each selector has one anchor: none is evaluated twice.
   */
  private reevaluate(id: string, labels: Labels, before?: Labels): void {
    for (const key of this.unanchored) this.evaluate(key, id, labels);
    for (const k in labels) {
      const keys = this.anchored.get(k)?.get(labels[k] as string);
      if (keys) for (const key of keys) this.evaluate(key, id, labels);
    }
    if (before) {
      for (const k in before) {
        const v = before[k] as string;
        if (labels[k] === v) continue;
        const keys = this.anchored.get(k)?.get(v);
        if (keys) for (const key of keys) this.evaluate(key, id, labels);
      }
    }
  }

  private evaluate(key: string, id: string, labels: Labels): void {
    const s = this.selectors.get(key) as IndexedSelector;
    this.evaluations++;
    const now = s.match(labels);
    if (now !== s.members.has(id)) {
      if (now) s.members.add(id);
      else s.members.delete(id);
      this.markDirty(key, id);
      this.changedItems.add(id);
    }
  }
}

const EMPTY: ReadonlySet<string> = new Set();

function sameLabels(a: Labels, b: Labels): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => a[k] === b[k]);
}
