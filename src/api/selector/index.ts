/**
 * Calico selectors (`projectcalico.org/v3` NetworkPolicy `selector`, `namespaceSelector`, ...) and
 * Kubernetes LabelSelectors: parse, validate, print canonically, evaluate.
 *
 * DESIGN
 * - Grammar and semantics follow Calico's libcalico-go selector parser: `==`, `!=`, `in {..}`,
 *   `not in {..}`, `has(k)`, `contains`, `starts with`, `ends with`, `all()`, `global()`, `!`, `&&`,
 *   `||`, parentheses; precedence `!` > `&&` > `||`; `""` means `all()`. `!=` and `not in` match when
 *   the key is absent; `==`, `in`, `contains`, `starts with`, `ends with` need the key present.
 * - `global()` is true when the label set has no `projectcalico.org/namespace` key. Calico's own
 *   GlobalNode is a marker evaluated as true; we make it evaluable so a namespaceSelector of
 *   `global()` selects exactly the non-namespaced endpoints, which is what Calico means by it.
 *   `selectorLabelKeys` therefore reports that key for `global()`.
 * - Stricter than Calico on label keys: they must be Kubernetes qualified names (prefix ≤253, DNS
 *   subdomain; name ≤63). Such keys could never be on a valid resource, so no match is lost. String
 *   literals are not checked against label-value syntax (`starts with "web-"` is fine).
 * - Strings: `\\`, `\"`, `\'` are escapes (a Calico extension, see parse.ts); other backslashes are
 *   literal. The printer always double-quotes.
 * - `parseSelector` returns the normalized AST, so for every parsed `s`:
 *   `parseSelector(printSelector(s))` deep-equals `s`, and equal selectors print equal. Reviewers: any
 *   new normalization rule must keep that round trip (see the property tests).
 * - AST nodes built here are frozen; the compiled matcher and canonical text are cached per node in
 *   WeakMaps, so `evaluateSelector` on a parsed selector allocates nothing per call. Hot loops may
 *   hold `compileSelector(s)` directly.
 * - Errors are TesseraError('validation'); parse errors carry `details.position` (0-based UTF-16
 *   offset) and name the offending character.
 */
import { NAMESPACE_LABEL, type Selector } from './ast.js';
import { printSelector } from './canonical.js';
import { parseSelector } from './parse.js';

export type { Selector } from './ast.js';
export { ALL_SELECTOR } from './ast.js';
export { andSelectors, printSelector } from './canonical.js';
export { compileSelector, evaluateSelector } from './evaluate.js';
export { labelSelectorToSelector, type LabelSelector } from './k8s.js';
export { validateLabelKey, validateLabelValue } from './labels.js';
export { parseSelector } from './parse.js';

/** `printSelector(parseSelector(text))`. */
export function canonicalSelector(text: string): string {
  return printSelector(parseSelector(text));
}

/** Every label key `s` reads, sorted and unique (`global()` reads `projectcalico.org/namespace`). */
export function selectorLabelKeys(s: Selector): string[] {
  const keys = new Set<string>();
  const stack: Selector[] = [s];
  while (stack.length > 0) {
    const n = stack.pop() as Selector;
    switch (n.kind) {
      case 'all':
        break;
      case 'global':
        keys.add(NAMESPACE_LABEL);
        break;
      case 'not':
        stack.push(n.operand);
        break;
      case 'and':
      case 'or':
        stack.push(...n.operands);
        break;
      default:
        keys.add(n.key);
    }
  }
  return [...keys].sort();
}
