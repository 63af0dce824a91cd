/**
 * Names and addresses of external routers (`lab router add`). Pure, like plan.ts: the same lab
 * state and arguments always give the same names, so `add`, `delete`, `status` and `down` agree.
 *
 * An external router NAME in subnet k is netns `<lab>-rtr-<NAME>` with one leg `eth0` at
 * 10.240.k.<254 - i> (the first host number from 254 down that no other router in subnet k uses;
 * nodes take .10 up), default route via the subnet gateway .1; its fabric-side veth on bridge
 * `br<k>` is `x<hash>` (8 hex digits of the name: interface names are at most 15 bytes).
 */
import type { Problem } from '../lib/errors.js';
import { canonicalIp } from '../lib/ip.js';
import { shortHash } from './plan.js';
import type { LabState } from './state.js';

export const ROUTER_NAME_RE = /^[a-z]([-a-z0-9]{0,18}[a-z0-9])?$/;
/** The lab's own inter-subnet router is called this; external routers may not be. */
export const SUBNET_ROUTER_NAME = 'router';
const FIRST_HOST = 254;
const LAST_HOST = 200;

export interface ExternalRouterPlan {
  name: string;
  netns: string;
  subnet: number;
  asNumber: number;
  ip4: string;
  cidr4: string;
  gateway4: string;
  ip6?: string;
  cidr6?: string;
  gateway6?: string;
  fabricIf: string;
  bridge: string;
}

/** "65000" or "1.10" (asdot) -> 1..4294967295. */
export function parseAsNumberText(v: string | number): number | undefined {
  const text = String(v).trim();
  let n: number;
  const dot = /^(\d{1,5})\.(\d{1,5})$/.exec(text);
  if (dot) {
    const hi = Number(dot[1]);
    const lo = Number(dot[2]);
    if (hi > 65535 || lo > 65535) return undefined;
    n = hi * 65536 + lo;
  } else if (/^\d{1,10}$/.test(text)) {
    n = Number(text);
  } else {
    return undefined;
  }
  return n >= 1 && n <= 4294967295 ? n : undefined;
}

export function externalRouterNetns(lab: string, name: string): string {
  return `${lab}-rtr-${name}`;
}

/** Validates `lab router add` arguments against the lab; problems name the flag and quote the value. */
export function planExternalRouter(
  s: Pick<LabState, 'name' | 'options' | 'routers'>,
  name: string,
  raw: { asNumber: string | number; subnet?: string | number },
): { plan?: ExternalRouterPlan; problems: Problem[] } {
  const problems: Problem[] = [];
  if (!ROUTER_NAME_RE.test(name)) {
    problems.push({
      path: 'NAME',
      message: `router name "${name}" is invalid: use 1-20 lower-case letters, digits and "-", starting with a letter`,
    });
  } else if (name === SUBNET_ROUTER_NAME) {
    problems.push({ path: 'NAME', message: `router name "${name}" is reserved for the lab's inter-subnet router` });
  } else if (s.routers.some((r) => r.name === name)) {
    problems.push({ path: 'NAME', message: `lab "${s.name}" already has a router "${name}"` });
  }
  const asNumber = parseAsNumberText(raw.asNumber);
  if (asNumber === undefined)
    problems.push({
      path: '--as',
      message: `AS number "${String(raw.asNumber)}" is invalid: expected an integer from 1 to 4294967295`,
    });
  const subnetText = String(raw.subnet ?? 0);
  const subnet = /^\d+$/.test(subnetText) ? Number(subnetText) : Number.NaN;
  if (!Number.isInteger(subnet) || subnet < 0 || subnet >= s.options.subnets) {
    problems.push({
      path: '--subnet',
      message: `"${subnetText}" is invalid: the lab has subnets 0-${s.options.subnets - 1}`,
    });
  }
  if (problems.length > 0) return { problems };
  const taken = new Set(s.routers.filter((r) => r.subnet === subnet && r.kind === 'external').flatMap((r) => r.ips));
  let host = FIRST_HOST;
  while (host >= LAST_HOST && taken.has(`10.240.${subnet}.${host}`)) host--;
  if (host < LAST_HOST)
    return {
      problems: [
        {
          path: '--subnet',
          message: `subnet ${subnet} has no free router address left (.${LAST_HOST}-.${FIRST_HOST})`,
        },
      ],
    };
  const plan: ExternalRouterPlan = {
    name,
    netns: externalRouterNetns(s.name, name),
    subnet,
    asNumber: asNumber!,
    ip4: `10.240.${subnet}.${host}`,
    cidr4: `10.240.${subnet}.${host}/24`,
    gateway4: `10.240.${subnet}.1`,
    fabricIf: `x${shortHash(name)}`,
    bridge: `br${subnet}`,
  };
  if (s.options.ipv6) {
    const hex = subnet.toString(16);
    plan.ip6 = canonicalIp(`fd00:240:0:${hex}::${host.toString(16)}`) ?? `fd00:240:0:${hex}::${host.toString(16)}`;
    plan.cidr6 = `${plan.ip6}/64`;
    plan.gateway6 = canonicalIp(`fd00:240:0:${hex}::1`) ?? `fd00:240:0:${hex}::1`;
  }
  return { plan, problems };
}
