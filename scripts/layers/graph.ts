/**
 * The import rules of ../shared/DESIGN.md, as a pure function over an import graph.
 *
 * DESIGN
 * - Layers, lowest first: lib → api → datastore → ipam, policy → dataplane, bgp, cni → agent,
 *   controllers → lab → cli. A component (the first folder under src/) imports only from lower
 *   layers; two components on one layer never import each other.
 * - Another component is entered through an `index.ts` (its own, or a sub-component's such as
 *   `dataplane/nft/index.ts`), never a file behind it. `lib` is the exception: it is a shelf of
 *   independent helpers, and one entry would load `exec` (child_process) into every pure module.
 * - Binaries are leaves: no file under src/ imports a `main.ts` or `*-main.ts`.
 * - No import cycle among src/ files. Type-only and dynamic imports count too: a cycle of types is
 *   still two files that cannot be understood (or split) one without the other.
 * - test/, bench/ and scripts/ may import anything; only their own cycles are not checked.
 */

/** Each component's layer; a higher number may import a lower one. */
export const LAYERS: Readonly<Record<string, number>> = {
  lib: 0,
  api: 1,
  datastore: 2,
  ipam: 3,
  policy: 3,
  dataplane: 4,
  bgp: 4,
  cni: 4,
  agent: 5,
  controllers: 5,
  lab: 6,
  cli: 7,
};

/** One file and the repository-relative paths of the files it imports (already resolved). */
export interface SourceFile {
  path: string;
  imports: readonly string[];
}

export type ViolationKind = 'upward' | 'sideways' | 'deep' | 'unknown-component' | 'imports-binary' | 'cycle';

export interface Violation {
  kind: ViolationKind;
  /** The importing file (for a cycle: the files of the cycle, in import order). */
  files: string[];
  message: string;
}

/** `src/<component>/...` → component; undefined outside src/. */
export function componentOf(path: string): string | undefined {
  const m = /^src\/([^/]+)\//.exec(path);
  return m ? m[1] : undefined;
}

const isBinary = (path: string) => /(^|\/)([\w-]+-)?main\.ts$/.test(path);

/** Every broken rule in `files`, in a stable order (by file, then kind). */
export function checkLayers(files: readonly SourceFile[]): Violation[] {
  const out: Violation[] = [];
  for (const f of files) {
    const from = componentOf(f.path);
    if (from === undefined) continue;
    if (LAYERS[from] === undefined) {
      out.push({
        kind: 'unknown-component',
        files: [f.path],
        message: `${f.path}: component "${from}" has no layer in DESIGN.md`,
      });
      continue;
    }
    for (const to of f.imports) {
      const target = componentOf(to);
      if (target === undefined) continue;
      if (isBinary(to)) {
        out.push({ kind: 'imports-binary', files: [f.path, to], message: `${f.path} imports the binary entry ${to}` });
      }
      if (target === from) continue;
      if (target !== 'lib' && !to.endsWith('/index.ts')) {
        out.push({
          kind: 'deep',
          files: [f.path, to],
          message: `${f.path} imports ${to}, behind ${target}'s public entry: import its index.ts`,
        });
      }
      const lf = LAYERS[from]!;
      const lt = LAYERS[target];
      if (lt === undefined) continue; // reported once, from the target's own files
      if (lt > lf) {
        out.push({
          kind: 'upward',
          files: [f.path, to],
          message: `${f.path} (${from}, layer ${lf}) imports ${to} (${target}, layer ${lt}): imports point down the layers only`,
        });
      } else if (lt === lf) {
        out.push({
          kind: 'sideways',
          files: [f.path, to],
          message: `${f.path} (${from}) imports ${to} (${target}): components on one layer do not import each other`,
        });
      }
    }
  }
  for (const cycle of findCycles(files.filter((f) => componentOf(f.path) !== undefined))) {
    out.push({ kind: 'cycle', files: cycle, message: `import cycle: ${[...cycle, cycle[0]].join(' → ')}` });
  }
  return out;
}

/**
 * One cycle per strongly connected component of more than one file (or a file importing itself),
 * found with Tarjan's algorithm; each is reported as a concrete path through the component.
 */
export function findCycles(files: readonly SourceFile[]): string[][] {
  const graph = new Map<string, string[]>();
  for (const f of files)
    graph.set(
      f.path,
      [...new Set(f.imports)].filter((i) => i !== undefined),
    );
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const sccs: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) sccs.push(scc);
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return sccs.map((scc) => cyclePath(scc, graph)).sort((a, b) => a[0]!.localeCompare(b[0]!));
}

/** A shortest cycle through the component's smallest path, by breadth-first search inside it. */
function cyclePath(scc: string[], graph: Map<string, string[]>): string[] {
  const members = new Set(scc);
  const start = [...scc].sort()[0]!;
  const prev = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i]!;
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(prev.get(path[0]!)!);
        return path;
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start];
}
