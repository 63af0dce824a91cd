/**
 * Node address autodetection, Calico's methods: `first-found`, `interface=REGEX`,
 * `can-reach=IP`, `cidr=CIDR[,CIDR]`. The choice is pure (`chooseAddress`) over `ip -json addr`
 * output; only `detectNodeAddress` touches the kernel.
 */
import { run } from '../lib/exec.js';
import { TesseraError } from '../lib/errors.js';
import { checkCidr, cidrContainsIp, tryParseIp, type IpFamily } from '../lib/ip.js';

export interface InterfaceAddrs {
  ifname: string;
  addrs: { local: string; prefixlen: number; family: IpFamily; scope: string }[];
}

interface AddrJson {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number; scope: string }[];
}

export function parseAddrJson(json: string): InterfaceAddrs[] {
  return (JSON.parse(json || '[]') as AddrJson[]).map((i) => ({
    ifname: i.ifname,
    addrs: (i.addr_info ?? []).map((a) => ({
      local: a.local,
      prefixlen: a.prefixlen,
      family: a.family === 'inet6' ? 6 : 4,
      scope: a.scope,
    })),
  }));
}

/** Interfaces Calico's first-found skips: loopback, container and overlay devices. */
const EXCLUDED = [
  /^lo$/,
  /^docker/,
  /^cbr/,
  /^dummy/,
  /^virbr/,
  /^lxcbr/,
  /^veth/,
  /^cali/,
  /^tunl/,
  /^flannel/,
  /^kube-ipvs/,
  /^cni/,
  /^vxlan/,
  /^tessera\./,
  /^tsr/,
];

export type AutodetectMethod =
  | { kind: 'first-found' }
  | { kind: 'interface'; regex: RegExp }
  | { kind: 'skip-interface'; regex: RegExp }
  | { kind: 'can-reach'; target: string }
  | { kind: 'cidr'; cidrs: string[] };

export function parseAutodetectMethod(text: string): AutodetectMethod {
  const t = text.trim();
  if (t === '' || t === 'first-found') return { kind: 'first-found' };
  const eq = t.indexOf('=');
  const name = eq < 0 ? t : t.slice(0, eq);
  const arg = eq < 0 ? '' : t.slice(eq + 1);
  const bad = (why: string) => new TesseraError('validation', `invalid IP autodetection method "${text}": ${why}`);
  switch (name) {
    case 'interface':
    case 'skip-interface':
      try {
        return {
          kind: name,
          regex: new RegExp(
            arg
              .split(',')
              .map((r) => `(?:${r})`)
              .join('|'),
          ),
        };
      } catch (e) {
        throw new TesseraError('validation', `invalid IP autodetection method "${text}": bad regex`, { cause: e });
      }
    case 'can-reach':
      if (!arg) throw bad('missing destination');
      return { kind: 'can-reach', target: arg };
    case 'cidr': {
      const cidrs = arg.split(',').filter(Boolean);
      for (const c of cidrs) if (!checkCidr(c, { strict: false }).cidr) throw bad(`"${c}" is not a CIDR`);
      if (!cidrs.length) throw bad('missing CIDR');
      return { kind: 'cidr', cidrs };
    }
    default:
      throw bad('expected first-found, interface=REGEX, skip-interface=REGEX, can-reach=DEST or cidr=CIDR');
  }
}

/** Picks the node address ("a.b.c.d/len") from the interface list; undefined when none fits. */
export function chooseAddress(
  ifaces: readonly InterfaceAddrs[],
  method: AutodetectMethod,
  family: IpFamily,
  canReachSource?: string,
): string | undefined {
  const usable = (i: InterfaceAddrs) => i.addrs.filter((a) => a.family === family && a.scope === 'global');
  const fmt = (a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`;
  switch (method.kind) {
    case 'first-found':
    case 'skip-interface': {
      for (const i of ifaces) {
        if (EXCLUDED.some((r) => r.test(i.ifname))) continue;
        if (method.kind === 'skip-interface' && method.regex.test(i.ifname)) continue;
        const a = usable(i)[0];
        if (a) return fmt(a);
      }
      return undefined;
    }
    case 'interface': {
      for (const i of ifaces) {
        if (!method.regex.test(i.ifname)) continue;
        const a = usable(i)[0];
        if (a) return fmt(a);
      }
      return undefined;
    }
    case 'cidr': {
      const cidrs = method.cidrs.map((c) => checkCidr(c, { strict: false }).cidr!);
      for (const i of ifaces) {
        for (const a of usable(i)) {
          const ip = tryParseIp(a.local);
          if (ip && cidrs.some((c) => cidrContainsIp(c, ip))) return fmt(a);
        }
      }
      return undefined;
    }
    case 'can-reach': {
      for (const i of ifaces) for (const a of usable(i)) if (a.local === canReachSource) return fmt(a);
      return undefined;
    }
  }
}

/** Reads the kernel and applies `method`; throws a clear error when nothing matches. */
export async function detectNodeAddress(method: AutodetectMethod, family: IpFamily): Promise<string> {
  const ifaces = parseAddrJson((await run(['ip', '-j', family === 4 ? '-4' : '-6', 'addr', 'show'])).stdout);
  let source: string | undefined;
  if (method.kind === 'can-reach') {
    const target = tryParseIp(method.target) ? method.target : undefined;
    if (!target) throw new TesseraError('validation', `can-reach destination "${method.target}" must be an IP address`);
    const r = await run(['ip', '-j', 'route', 'get', target], { check: false });
    source = r.code === 0 ? (JSON.parse(r.stdout) as { prefsrc?: string }[])[0]?.prefsrc : undefined;
  }
  const chosen = chooseAddress(ifaces, method, family, source);
  if (!chosen) {
    throw new TesseraError('not-found', `cannot autodetect an IPv${family} node address with method "${method.kind}"`);
  }
  return chosen;
}

/** The MTU of the interface that holds `address`. */
export async function interfaceMtuFor(address: string): Promise<number | undefined> {
  const ip = address.split('/')[0];
  const r = await run(['ip', '-j', 'addr', 'show'], {});
  const list = JSON.parse(r.stdout) as { ifname: string; mtu: number; addr_info?: { local: string }[] }[];
  return list.find((i) => i.addr_info?.some((a) => a.local === ip))?.mtu;
}
