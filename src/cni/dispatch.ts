/**
 * One invocation in, one reply out: shared by the standalone executables (main.ts, ipam-main.ts)
 * and the agent's CNI server, so both paths run exactly the same logic.
 */
import { cmdAdd } from './add.js';
import { cmdCheck } from './check.js';
import { cmdDel } from './del.js';
import type { CniDeps } from './deps.js';
import { CNI_ERR, cniFailure, renderCniError } from './errors.js';
import { cmdGc, cmdStatus } from './gc.js';
import { ipamAdd, ipamCheck, ipamDel } from './ipam-plugin.js';
import { parseRequest, replyVersion, type CniEnv } from './request.js';
import type { CniReply, CniRequest } from './types.js';
import { SUPPORTED_VERSIONS, formatResult, type CniVersion } from './version.js';

export type PluginMode = 'cni' | 'ipam';

/** Deps are made lazily: VERSION and bad input must answer without touching the datastore. */
export type DepsProvider = (req: CniRequest) => Promise<CniDeps>;

const TESSERA_IPAM_TYPES = new Set(['tessera-ipam', 'calico-ipam']);

const json = (v: unknown): string => `${JSON.stringify(v)}\n`;

export async function handleInvocation(
  mode: PluginMode,
  env: CniEnv,
  stdin: string,
  getDeps: DepsProvider,
): Promise<CniReply> {
  const errVersion = replyVersion(stdin);
  try {
    const req = parseRequest(env, stdin);
    const version = req.conf.cniVersion as CniVersion;
    if (req.command === 'VERSION')
      return { exitCode: 0, stdout: json({ cniVersion: version, supportedVersions: SUPPORTED_VERSIONS }) };
    if (mode === 'cni' && req.conf.ipam && !TESSERA_IPAM_TYPES.has(req.conf.ipam.type)) {
      throw cniFailure(
        'validation',
        CNI_ERR.invalidConfig,
        `invalid network config: tessera-cni supports only "tessera-ipam", not "${req.conf.ipam.type}"`,
      );
    }
    const deps = await getDeps(req);
    switch (req.command) {
      case 'ADD': {
        const result = mode === 'cni' ? await cmdAdd(deps, req) : await ipamAdd(deps, req);
        return { exitCode: 0, stdout: json(formatResult(result, version)) };
      }
      case 'DEL':
        await (mode === 'cni' ? cmdDel(deps, req) : ipamDel(deps, req));
        return { exitCode: 0, stdout: '' };
      case 'CHECK':
        await (mode === 'cni' ? cmdCheck(deps, req) : ipamCheck(deps, req));
        return { exitCode: 0, stdout: '' };
      case 'GC':
        await cmdGc(deps, req);
        return { exitCode: 0, stdout: '' };
      case 'STATUS':
        await cmdStatus(deps);
        return { exitCode: 0, stdout: '' };
    }
  } catch (err) {
    return { exitCode: 1, stdout: json(renderCniError(err, errVersion)) };
  }
}
