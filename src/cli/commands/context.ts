/** `tessera context list | use NAME | delete NAME`: manage ~/.tessera/config.json contexts. */
import { readCliConfig, removeContext, useContext } from '../../lib/context.js';
import { renderTable } from '../format.js';
import type { CliIO } from '../io.js';

export function contextListVerb(io: CliIO, env: NodeJS.ProcessEnv = process.env): number {
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

export function contextUseVerb(name: string, io: CliIO, env: NodeJS.ProcessEnv = process.env): number {
  useContext(name, { env });
  io.out(`Switched to context "${name}"\n`);
  return 0;
}

export function contextDeleteVerb(name: string, io: CliIO, env: NodeJS.ProcessEnv = process.env): number {
  removeContext(name, { env });
  io.out(`Deleted context "${name}"\n`);
  return 0;
}
