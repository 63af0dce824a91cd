/** `tessera context list | use NAME | delete NAME`: manage ~/.tessera/config.json contexts. */
import { readCliConfig, removeContext, useContext } from '../../lib/context.js';
import { renderTable } from '../format.js';
import type { VerbDeps } from '../io.js';

type ContextDeps = Pick<VerbDeps, 'io' | 'env'>;

export function contextListVerb(_args: object, deps: ContextDeps): number {
  const { io, env } = deps;
  const cfg = readCliConfig(env);
  const names = Object.keys(cfg.contexts).sort();
  if (names.length === 0) {
    io.err('no contexts configured (`tessera lab up` creates one)\n');
    return 0;
  }
  const rows = names.map((n) => {
    const c = cfg.contexts[n]!;
    return [n === cfg.currentContext ? '*' : '', n, c.etcdEndpoints.join(','), c.lab ?? ''];
  });
  io.out(renderTable(['CURRENT', 'NAME', 'ENDPOINTS', 'LAB'], rows));
  return 0;
}

export function contextUseVerb(args: { name: string }, deps: ContextDeps): number {
  useContext(args.name, { env: deps.env });
  deps.io.out(`Switched to context "${args.name}"\n`);
  return 0;
}

export function contextDeleteVerb(args: { name: string }, deps: ContextDeps): number {
  removeContext(args.name, { env: deps.env });
  deps.io.out(`Deleted context "${args.name}"\n`);
  return 0;
}
