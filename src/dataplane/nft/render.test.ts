import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { diffNft, fullNftScript } from './diff.js';
import { fixtureCalculator } from './fixture.js';
import { EMPTY_STATE } from './model.js';
import { detectDrift, parseNftJson } from './parse.js';
import { renderNft } from './render.js';

const golden = fileURLToPath(new URL('./testdata/fixture.nft', import.meta.url));

describe('renderNft', () => {
  test('matches the golden file (UPDATE_GOLDEN=1 rewrites it)', () => {
    const text = fullNftScript(renderNft(fixtureCalculator().resolve()));
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(golden, text);
    assert.equal(text, readFileSync(golden, 'utf8'));
  });

  test('is deterministic and independent of update order', () => {
    const a = fullNftScript(renderNft(fixtureCalculator().resolve()));
    const c = fixtureCalculator();
    c.apply({ kind: 'WorkloadEndpoint', key: 'x/a', value: null });
    c.apply({
      kind: 'WorkloadEndpoint',
      key: 'x/a',
      value: {
        name: 'a',
        namespace: 'x',
        node: 'n1',
        interfaceName: 'tsra',
        ipNetworks: ['10.0.0.1/32', 'fd00::1/128'],
        labels: { pod: 'a' },
        ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
      },
    });
    assert.equal(fullNftScript(renderNft(c.resolve())), a);
  });

  test('remote endpoints feed sets but get no dispatch or anti-spoof entries', () => {
    const s = renderNft(fixtureCalculator().resolve());
    assert.ok(s.maps.get('from_wep')!.elements.has('tsra') && s.maps.get('to_wep')!.elements.has('tsrb'));
    assert.ok(!s.maps.get('from_wep')!.elements.has('tsrr'));
    assert.deepEqual(s.sets.get('wep_src4')!.elements, ['"tsra" . 10.0.0.1', '"tsrb" . 10.0.0.2']);
    assert.ok([...s.sets.values()].some((x) => x.elements.includes('10.0.1.9')));
  });
});

describe('diffNft', () => {
  test('no change → empty script', () => {
    const s = renderNft(fixtureCalculator().resolve());
    assert.equal(diffNft(s, renderNft(fixtureCalculator().resolve())).empty, true);
  });

  test('a remote pod label change only touches set elements', () => {
    const c = fixtureCalculator();
    const before = renderNft(c.resolve());
    c.apply({
      kind: 'WorkloadEndpoint',
      key: 'x/r',
      value: {
        name: 'r',
        namespace: 'x',
        node: 'n2',
        interfaceName: 'tsrr',
        ipNetworks: ['10.0.1.9/32'],
        labels: { pod: 'z' },
      },
    });
    const d = diffNft(before, renderNft(c.resolve()));
    // Two selectors (the namespaced k8s one and a global one) matched r.
    const lines = d.script.trim().split('\n');
    assert.equal(lines.length, 2);
    for (const l of lines) assert.match(l, /^delete element inet tessera s4-[0-9a-f]+ \{ 10\.0\.1\.9 \}$/);
    assert.equal(d.stats.chainsRewritten + d.stats.chainsAdded + d.stats.chainsRemoved, 0);
  });

  test('adding a local pod with a known policy list adds only elements: vmaps and anti-spoof set', () => {
    const c = fixtureCalculator();
    const before = renderNft(c.resolve());
    c.apply({
      kind: 'WorkloadEndpoint',
      key: 'x/c',
      value: {
        name: 'c',
        namespace: 'x',
        node: 'n1',
        interfaceName: 'tsrc',
        ipNetworks: ['10.0.0.3/32'],
        labels: { pod: 'b' },
      },
    });
    const after = renderNft(c.resolve());
    const d = diffNft(before, after);
    assert.equal(d.stats.chainsAdded + d.stats.chainsRewritten + d.stats.chainsRemoved, 0, d.script);
    assert.equal(d.stats.mapElementsChanged, 2);
    assert.equal(after.maps.get('to_wep')!.elements.get('tsrc'), after.maps.get('to_wep')!.elements.get('tsrb'));
    assert.match(d.script, /add element inet tessera wep_src4 \{ "tsrc" \. 10\.0\.0\.3 \}/);
    assert.match(d.script, /add element inet tessera from_wep \{ "tsrc" : goto de-[0-9a-f]+ \}/);
    assert.doesNotMatch(d.script, /flush/);
  });

  test('a pod with a new policy list gets one new shared chain per direction that changed', () => {
    const c = fixtureCalculator();
    const before = renderNft(c.resolve());
    c.apply({
      kind: 'WorkloadEndpoint',
      key: 'x/c',
      value: {
        name: 'c',
        namespace: 'x',
        node: 'n1',
        interfaceName: 'tsrc',
        ipNetworks: ['10.0.0.3/32'],
        labels: { pod: 'c' },
      },
    });
    const d = diffNft(before, renderNft(c.resolve()));
    assert.ok(d.stats.chainsAdded <= 2, d.script);
    assert.equal(d.stats.chainsRewritten, 0);
  });

  test('removing everything deletes chains after unlinking them, sets last', () => {
    const s = renderNft(fixtureCalculator().resolve());
    const lines = diffNft(s, EMPTY_STATE).script.trim().split('\n');
    const firstDeleteChain = lines.findIndex((l) => l.startsWith('delete chain'));
    const lastFlush = lines.map((l) => l.startsWith('flush chain')).lastIndexOf(true);
    const firstDeleteSet = lines.findIndex((l) => l.startsWith('delete set'));
    assert.ok(lastFlush < firstDeleteChain && firstDeleteChain < firstDeleteSet);
  });
});

describe('drift detection', () => {
  test('parses nft -j output and spots a removed rule, a hand-added element and a missing chain', () => {
    const s = renderNft(fixtureCalculator().resolve());
    const set = [...s.sets.values()][0]!;
    const items: unknown[] = [{ metainfo: {} }];
    for (const x of s.sets.values())
      items.push({
        set: {
          name: x.name,
          elem: x.elements.map((e) =>
            e.includes('/')
              ? { prefix: { addr: e.split('/')[0], len: Number(e.split('/')[1]) } }
              : e.startsWith('"')
                ? { concat: e.split(' . ').map((v) => v.replace(/"/g, '')) }
                : e.includes(' . ')
                  ? { concat: e.split(' . ').map((v, i) => (i === 1 ? 'tcp' : i === 2 ? Number(v) : v)) }
                  : e,
          ),
        },
      });
    const protoName: Record<string, string> = { '6': 'tcp', '17': 'udp', '132': 'sctp' };
    const portKey = (k: string) => {
      const [pr, range] = k.split(' . ') as [string, string];
      const [lo, hi] = range.split('-').map(Number) as [number, number | undefined];
      return { concat: [protoName[pr] ?? Number(pr), hi === undefined ? lo : { range: [lo, hi] }] };
    };
    for (const m of s.maps.values()) {
      const elem = [...m.elements].map(([k, v]) => [
        m.key ? portKey(k) : k,
        { [v.split(' ')[0]!]: { target: v.split(' ')[1] } },
      ]);
      items.push({ map: { name: m.name, ...(m.key ? { type: ['inet_proto', 'inet_service'] } : {}), elem } });
    }
    for (const c of s.chains.values()) {
      items.push({ chain: { name: c.name, ...(c.hook ? { hook: c.hook.hook } : {}) } });
    }
    const comments = (name: string) =>
      fullNftScript(s)
        .split('\n')
        .filter((l) => l.startsWith(`add rule inet tessera ${name} `))
        .map((l) => /comment "([^"]*)"$/.exec(l)![1]);
    for (const c of s.chains.values())
      for (const cm of comments(c.name)) items.push({ rule: { chain: c.name, comment: cm } });
    const clean = parseNftJson(JSON.stringify({ nftables: items }));
    assert.deepEqual(detectDrift(s, clean), []);
    clean.sets.get(set.name)!.push('1.2.3.4');
    const [di, de] = [
      s.maps.get('to_wep')!.elements.get('tsra')!.split(' ')[1]!,
      s.maps.get('from_wep')!.elements.get('tsrb')!.split(' ')[1]!,
    ];
    clean.chains.get(di)!.pop();
    clean.chains.delete(de);
    const drift = detectDrift(s, clean);
    assert.equal(drift.length, 3, drift.join('\n'));
  });
});
