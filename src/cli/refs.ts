/** Turning what the user typed (`pool`, `ns1/web`, `-n ns1`) into resource references. */
import type { KindInfo } from '../api/index.js';
import { lookupKind } from '../api/index.js';
import { TesseraError } from '../lib/errors.js';
import type { ResourceRef } from './store.js';

export function resolveKind(name: string): KindInfo {
  const info = lookupKind(name);
  if (!info) {
    throw new TesseraError(
      'usage',
      `unknown resource kind "${name}" (try "ippool", "networkpolicy", "gnp", "ns", ...)`,
    );
  }
  return info;
}

/**
 * `NAME` or, for namespaced kinds, `NAMESPACE/NAME`. The namespace defaults to `-n`, then
 * `default`; a `NS/NAME` that disagrees with `-n` is a usage error rather than a guess.
 */
export function parseNameArg(arg: string, info: KindInfo, namespace?: string): ResourceRef {
  if (arg === '') throw new TesseraError('usage', `empty ${info.kind} name`);
  if (!info.namespaced) {
    if (arg.includes('/')) {
      throw new TesseraError('usage', `${info.kind} is not namespaced: name "${arg}" must not contain "/"`);
    }
    return { info, name: arg };
  }
  const slash = arg.indexOf('/');
  if (slash < 0) return { info, name: arg, namespace: namespace ?? 'default' };
  const ns = arg.slice(0, slash);
  const name = arg.slice(slash + 1);
  if (ns === '' || name === '' || name.includes('/')) {
    throw new TesseraError('usage', `invalid ${info.kind} name "${arg}": expected NAME or NAMESPACE/NAME`);
  }
  if (namespace !== undefined && namespace !== ns) {
    throw new TesseraError('usage', `"${arg}" names namespace "${ns}", which does not match -n "${namespace}"`);
  }
  return { info, name, namespace: ns };
}
