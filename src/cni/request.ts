/**
 * Turns a runtime invocation (environment + stdin) into a validated `CniRequest`, or a TesseraError
 * carrying the spec's error code. Pure: the caller passes env and stdin in. Nothing is touched
 * before this succeeds, so bad input changes nothing.
 */
import { CNI_ERR, cniFailure } from './errors.js';
import { CNI_COMMANDS, type CniCommand, type CniRequest, type NetConf } from './types.js';
import { isSupportedVersion, supportsCheck, type CniVersion } from './version.js';

export type CniEnv = Readonly<Record<string, string | undefined>>;

/** Best-effort version for error replies (the config's, when it is one we speak). */
export function replyVersion(stdin: string): CniVersion {
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    return isSupportedVersion(v) ? v : '1.0.0';
  } catch {
    return '1.0.0';
  }
}

export function parseCniArgs(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!text) return out;
  for (const pair of text.split(';')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq <= 0) throw cniFailure('validation', CNI_ERR.invalidEnv, `cannot parse CNI_ARGS: bad pair "${pair}"`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

function parseCommand(env: CniEnv): CniCommand {
  const cmd = env['CNI_COMMAND'];
  if (!cmd) throw cniFailure('validation', CNI_ERR.invalidEnv, 'CNI_COMMAND is not set');
  if (!(CNI_COMMANDS as readonly string[]).includes(cmd)) {
    throw cniFailure('validation', CNI_ERR.invalidEnv, `unknown CNI_COMMAND "${cmd}"`);
  }
  return cmd as CniCommand;
}

function parseConf(stdin: string): NetConf {
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (e) {
    throw cniFailure('validation', CNI_ERR.decodeFailure, 'cannot decode network config: not valid JSON', { cause: e });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw cniFailure('validation', CNI_ERR.decodeFailure, 'cannot decode network config: not a JSON object');
  }
  return raw as NetConf;
}

function requireEnv(env: CniEnv, name: string, command: CniCommand): string {
  const v = env[name];
  if (!v) throw cniFailure('validation', CNI_ERR.invalidEnv, `${name} is required for ${command} but is not set`);
  return v;
}

function checkConfFields(conf: NetConf, command: CniCommand): void {
  const bad = (msg: string) => cniFailure('validation', CNI_ERR.invalidConfig, `invalid network config: ${msg}`);
  if (typeof conf.name !== 'string' || conf.name === '') throw bad('"name" is missing');
  if (!/^[a-zA-Z0-9_.-]+$/.test(conf.name)) throw bad(`"name" "${conf.name}" has characters other than [a-zA-Z0-9_.-]`);
  if (typeof conf.type !== 'string' || conf.type === '') throw bad('"type" is missing');
  if (
    conf.mtu !== undefined &&
    (typeof conf.mtu !== 'number' || !Number.isInteger(conf.mtu) || conf.mtu < 0 || conf.mtu > 65535)
  ) {
    throw bad(`"mtu" ${JSON.stringify(conf.mtu)} is not an integer in 0..65535`);
  }
  if (conf.interface_prefix !== undefined && !/^[a-z][a-z0-9]{0,3}$/.test(String(conf.interface_prefix))) {
    throw bad(`"interface_prefix" "${String(conf.interface_prefix)}" must be 1-4 lower-case letters/digits`);
  }
  if (command === 'ADD' || command === 'DEL' || command === 'CHECK') {
    const ipam = conf.ipam;
    if (typeof ipam !== 'object' || ipam === null) throw bad('"ipam" section is missing');
    if (typeof ipam.type !== 'string' || ipam.type === '') throw bad('"ipam.type" is missing');
    for (const key of ['ipv4_pools', 'ipv6_pools'] as const) {
      const pools = ipam[key];
      if (pools !== undefined && (!Array.isArray(pools) || pools.some((p) => typeof p !== 'string'))) {
        throw bad(`"ipam.${key}" must be a list of pool names or CIDRs`);
      }
    }
  }
}

export function parseRequest(env: CniEnv, stdin: string): CniRequest {
  const command = parseCommand(env);
  const conf = command === 'VERSION' && stdin.trim() === '' ? ({ cniVersion: '1.0.0' } as NetConf) : parseConf(stdin);
  if (!isSupportedVersion(conf.cniVersion)) {
    throw cniFailure(
      'validation',
      CNI_ERR.incompatibleVersion,
      `unsupported cniVersion ${JSON.stringify(conf.cniVersion ?? null)}`,
      {
        details: { supported: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] },
      },
    );
  }
  const base = { command, conf, path: env['CNI_PATH'] ?? '', args: parseCniArgs(env['CNI_ARGS']) };
  if (command === 'VERSION' || command === 'GC' || command === 'STATUS') {
    if (command !== 'VERSION') checkConfFields(conf, command);
    return { ...base, containerId: '', netns: '', ifName: '' };
  }
  if (command === 'CHECK' && !supportsCheck(conf.cniVersion)) {
    throw cniFailure(
      'validation',
      CNI_ERR.incompatibleVersion,
      `CHECK is not supported by cniVersion "${conf.cniVersion}"`,
    );
  }
  const containerId = requireEnv(env, 'CNI_CONTAINERID', command);
  const ifName = requireEnv(env, 'CNI_IFNAME', command);
  if (!/^[^/\s:]{1,15}$/.test(ifName)) {
    throw cniFailure('validation', CNI_ERR.invalidEnv, `CNI_IFNAME "${ifName}" is not a valid interface name`);
  }
  const netns = command === 'DEL' ? (env['CNI_NETNS'] ?? '') : requireEnv(env, 'CNI_NETNS', command);
  checkConfFields(conf, command);
  return { ...base, containerId, netns, ifName };
}
