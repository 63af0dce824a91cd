/**
 * A small interpreter for NftState (pure): runs one packet through the hook chains with nft's
 * jump/goto/return, vmap and mark semantics. Tests use it to check the rendered rules against an
 * independent reference evaluator; real-kernel tests check that the text means the same to nft.
 */
import { cidrContainsIp, parseCidr, tryParseIp, type IpAddr } from '../../lib/ip.js';
import type { Match, NftChain, NftState } from './model.js';
import type { Packet } from '../../policy/index.js';

/** A packet as the policy model sees it, plus where nft meets it (hook, interfaces, ct state). */
export interface NftPacket extends Packet {
  /** The base chain to run (`forward`, `input`, `output`, `raw-prerouting`, ...). */
  hook: string;
  iif: string;
  oif?: string;
  ct?: 'new' | 'established' | 'related' | 'invalid' | 'untracked';
}

export interface NftTrace {
  verdict: 'accept' | 'drop';
  /** The packet mark when the chain ended (carried to the next hook). */
  mark: number;
  /** A `notrack` statement ran. */
  untracked?: boolean;
  /** Labels of the counted rules that matched, in order (for debugging failures). */
  path: string[];
}

const ND_TYPES = new Set([133, 135, 136]);

function setHas(state: NftState, name: string, key: string, ip: IpAddr | undefined): boolean {
  const set = state.sets.get(name);
  if (!set) throw new Error(`rule references missing set ${name}`);
  if (!ip) return set.elements.includes(key);
  return set.elements.some((e) => {
    const c = parseCidr(e.includes('/') ? e : `${e}/${e.includes(':') ? 128 : 32}`);
    return c.family === ip.family && cidrContainsIp(c, ip);
  });
}

function matches(state: NftState, m: Match, p: NftPacket, mark: number, src: IpAddr, dst: IpAddr): boolean {
  const fam = src.family;
  switch (m.m) {
    case 'nfproto':
      return fam === m.fam;
    case 'l4proto':
      return (p.protocol === m.proto) !== m.neg;
    case 'addrSet': {
      if (fam !== m.fam) return false; // implicit nfproto dependency
      const ip = m.field === 'saddr' ? src : dst;
      return setHas(state, m.set, '', ip) !== m.neg;
    }
    case 'ifaddrSet': {
      if (fam !== m.fam) return false;
      const hit = (state.sets.get(m.set)?.elements ?? []).some((e) => {
        const [name, a] = e.split(' . ') as [string, string];
        const b = tryParseIp(a);
        return name === `"${p.iif}"` && b !== undefined && b.family === src.family && b.value === src.value;
      });
      return hit !== m.neg;
    }
    case 'addrList': {
      if (fam !== m.fam) return false;
      const text = m.field === 'saddr' ? p.src : p.dst;
      const ip = tryParseIp(text) as IpAddr;
      const hit = m.addrs.some((a) => {
        const b = tryParseIp(a);
        return b !== undefined && b.family === ip.family && b.value === ip.value;
      });
      return hit !== m.neg;
    }
    case 'port': {
      const port = m.field === 'sport' ? p.srcPort : p.dstPort;
      if (port === undefined) return false;
      return m.ranges.some((r) => port >= r.lo && port <= r.hi) !== m.neg;
    }
    case 'namedPort': {
      if (fam !== m.fam) return false;
      const ipText = m.side === 'src' ? p.src : p.dst;
      const port = m.side === 'src' ? p.srcPort : p.dstPort;
      if (port === undefined) return false;
      const ip = tryParseIp(ipText) as IpAddr;
      const canon = state.sets.get(m.set)?.elements.find((e) => {
        const [a, pr, po] = e.split(' . ');
        const b = tryParseIp(a as string);
        return (
          b !== undefined &&
          b.value === ip.value &&
          b.family === ip.family &&
          Number(pr) === p.protocol &&
          Number(po) === port
        );
      });
      return (canon !== undefined) !== m.neg;
    }
    case 'icmp': {
      const proto = m.fam === 4 ? 1 : 58;
      if (fam !== m.fam || p.protocol !== proto || p.icmpType === undefined) return false;
      const hit = p.icmpType === m.type && (m.code === undefined || p.icmpCode === m.code);
      return hit !== m.neg;
    }
    case 'mark':
      return ((mark & m.mask) >>> 0 === m.value >>> 0) !== m.neg;
    case 'ifname': {
      const name = m.dir === 'iif' ? p.iif : (p.oif ?? '');
      const hit = m.name.endsWith('*') ? name.startsWith(m.name.slice(0, -1)) : name === m.name;
      return hit !== m.neg;
    }
    case 'ct':
      return (m.states as readonly string[]).includes(p.ct ?? 'new');
    case 'nd':
      return fam === 6 && p.protocol === 58 && p.icmpType !== undefined && ND_TYPES.has(p.icmpType);
  }
}

function portVmapTarget(state: NftState, name: string, protocol: number, port: number): string | undefined {
  const map = state.maps.get(name);
  if (!map) throw new Error(`rule references missing map ${name}`);
  let found: string | undefined;
  for (const [k, v] of map.elements) {
    const [pr, range] = k.split(' . ') as [string, string];
    const [lo, hi] = range.split('-').map(Number) as [number, number | undefined];
    if (Number(pr) !== protocol || port < lo || port > (hi ?? lo)) continue;
    // nft refuses overlapping intervals; a renderer producing them is a bug the tests must see.
    if (found !== undefined) throw new Error(`map ${name}: overlapping elements for ${protocol} . ${port}`);
    found = v;
  }
  return found;
}

type Frame = { chain: NftChain; pc: number };

/** A vmap element's verdict (`jump X` / `goto X`); no element found means the rule does nothing. */
function enterVmapTarget(state: NftState, stack: Frame[], target: string | undefined): void {
  if (!target) return;
  const [verb, name] = target.split(' ') as ['goto' | 'jump', string];
  const chain = state.chains.get(name);
  if (!chain) throw new Error(`vmap target missing chain ${name}`);
  if (verb === 'goto') stack.pop();
  stack.push({ chain, pc: 0 });
}

/**
 * Runs the packet through each hook's base chain in order, as the kernel would (an accept ends one
 * hook, the next still runs; a drop ends all), carrying the mark and the untracked state.
 */
export function interpretHooks(state: NftState, p: Omit<NftPacket, 'hook'>, hooks: readonly string[]): NftTrace {
  let mark = 0;
  let untracked = false;
  const path: string[] = [];
  for (const hook of hooks) {
    const t = interpretNft(state, { ...p, hook, ...(untracked ? { ct: 'untracked' as const } : {}) }, mark);
    path.push(...t.path);
    mark = t.mark;
    untracked ||= t.untracked === true;
    if (t.verdict === 'drop') return { verdict: 'drop', mark, path, untracked };
  }
  return { verdict: 'accept', mark, path, untracked };
}

export function interpretNft(state: NftState, p: NftPacket, startMark = 0): NftTrace {
  const base = state.chains.get(p.hook);
  if (!base) return { verdict: 'accept', path: [], mark: startMark };
  const src = tryParseIp(p.src);
  const dst = tryParseIp(p.dst);
  if (!src || !dst) throw new Error(`bad packet addresses ${p.src} ${p.dst}`);
  let mark = startMark;
  let untracked = false;
  const path: string[] = [];
  // Call stack of (chain, next rule index). goto replaces the top frame.
  const stack: Frame[] = [{ chain: base, pc: 0 }];
  let steps = 0;
  for (;;) {
    if (++steps > 100_000) throw new Error('nft interpreter: loop');
    const top = stack[stack.length - 1];
    if (!top) return { verdict: 'accept', path, mark, untracked };
    if (top.pc >= top.chain.rules.length) {
      stack.pop();
      if (stack.length === 0) return { verdict: 'accept', path, mark, untracked }; // base chain policy accept
      continue;
    }
    const rule = top.chain.rules[top.pc++] as NftChain['rules'][number];
    if (!rule.matches.every((m) => matches(state, m, p, mark, src, dst))) continue;
    for (const s of rule.stmts) {
      if (s.s === 'mark') mark = s.or === 0 ? (mark & s.and) >>> 0 : (mark | s.or) >>> 0;
      if (s.s === 'counter' && rule.label) path.push(rule.label);
      if (s.s === 'notrack') untracked = true;
    }
    const v = rule.verdict;
    if (!v) continue;
    switch (v.v) {
      case 'accept':
      case 'drop':
        return { verdict: v.v, path, mark, untracked };
      case 'return':
        stack.pop();
        if (stack.length === 0) return { verdict: 'accept', path, mark, untracked };
        break;
      case 'jump':
      case 'goto': {
        const chain = state.chains.get(v.chain);
        if (!chain) throw new Error(`jump to missing chain ${v.chain}`);
        if (v.v === 'goto') stack.pop();
        stack.push({ chain, pc: 0 });
        break;
      }
      case 'portVmap':
        // A packet without a destination port (ICMP) finds no element, as `th dport` keys only port protocols here.
        if (p.dstPort !== undefined) enterVmapTarget(state, stack, portVmapTarget(state, v.map, p.protocol, p.dstPort));
        break;
      case 'vmap':
        enterVmapTarget(state, stack, state.maps.get(v.map)?.elements.get(v.dir === 'iif' ? p.iif : (p.oif ?? '')));
        break;
    }
  }
}
