import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileSelector, evaluateSelector, parseSelector } from './index.js';

function matches(text: string, labels: Record<string, string>): boolean {
  return evaluateSelector(parseSelector(text), labels);
}

describe('evaluateSelector', () => {
  const web = { app: 'web', tier: 'frontend', 'projectcalico.org/namespace': 'prod' };

  test('== and != (absent key: == false, != true)', () => {
    assert.equal(matches('app == "web"', web), true);
    assert.equal(matches('app == "db"', web), false);
    assert.equal(matches('missing == "web"', web), false);
    assert.equal(matches('app != "db"', web), true);
    assert.equal(matches('app != "web"', web), false);
    assert.equal(matches('missing != "web"', web), true);
    assert.equal(matches('missing == ""', web), false);
    assert.equal(matches('a == ""', { a: '' }), true);
  });

  test('in / not in (absent key: in false, not in true)', () => {
    assert.equal(matches('app in {"db", "web"}', web), true);
    assert.equal(matches('app in {"db"}', web), false);
    assert.equal(matches('app in {}', web), false);
    assert.equal(matches('missing in {"web"}', web), false);
    assert.equal(matches('app not in {"db"}', web), true);
    assert.equal(matches('app not in {"web", "db"}', web), false);
    assert.equal(matches('missing not in {"web"}', web), true);
    assert.equal(matches('app not in {}', web), true);
  });

  test('has, contains, starts with, ends with need the key present', () => {
    assert.equal(matches('has(app)', web), true);
    assert.equal(matches('has(missing)', web), false);
    assert.equal(matches('!has(missing)', web), true);
    assert.equal(matches('tier contains "ont"', web), true);
    assert.equal(matches('tier contains "back"', web), false);
    assert.equal(matches('tier contains ""', web), true);
    assert.equal(matches('missing contains ""', web), false);
    assert.equal(matches('tier starts with "front"', web), true);
    assert.equal(matches('tier starts with "end"', web), false);
    assert.equal(matches('missing starts with ""', web), false);
    assert.equal(matches('tier ends with "end"', web), true);
    assert.equal(matches('tier ends with "front"', web), false);
    assert.equal(matches('missing ends with ""', web), false);
  });

  test('all() and global()', () => {
    assert.equal(matches('all()', {}), true);
    assert.equal(matches('', web), true);
    assert.equal(matches('!all()', web), false);
    assert.equal(matches('global()', web), false, 'namespaced labels are not global');
    assert.equal(matches('global()', { app: 'web' }), true);
    assert.equal(matches('global()', {}), true);
    assert.equal(matches('!global()', web), true);
  });

  test('boolean structure and precedence', () => {
    assert.equal(matches('app == "db" || app == "web" && tier == "frontend"', web), true);
    assert.equal(matches('(app == "db" || app == "web") && tier == "backend"', web), false);
    assert.equal(matches('app == "db" || tier == "x" || has(app)', web), true);
    assert.equal(matches('has(app) && has(tier) && !has(x) && app != "db"', web), true);
    assert.equal(matches('has(app) && has(tier) && has(x)', web), false);
    assert.equal(matches('!app == "web"', web), false);
  });

  test('Object.prototype members are not labels', () => {
    for (const key of ['constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
      assert.equal(matches(`has(${key})`, {}), false, key);
      assert.equal(matches(`${key} != "x"`, {}), true, key);
      assert.equal(matches(`${key} not in {"x"}`, {}), true, key);
      assert.equal(matches(`${key} contains ""`, {}), false, key);
      assert.equal(matches(`${key} == "v"`, { [key]: 'v' }), true, key);
      assert.equal(matches(`has(${key})`, { [key]: '' }), true, key);
    }
    assert.equal(matches('has(a)', Object.create(null) as Record<string, string>), false);
  });

  test('compileSelector is cached per AST and reusable', () => {
    const s = parseSelector('app == "web" && has(tier)');
    const m = compileSelector(s);
    assert.equal(compileSelector(s), m);
    assert.equal(m(web), true);
    assert.equal(m({ app: 'web' }), false);
  });

  test('unnormalized hand-built ASTs evaluate by their meaning', () => {
    assert.equal(evaluateSelector({ kind: 'and', operands: [] }, {}), true);
    assert.equal(evaluateSelector({ kind: 'or', operands: [] }, {}), false);
    assert.equal(
      evaluateSelector(
        {
          kind: 'or',
          operands: [
            { kind: 'has', key: 'a' },
            { kind: 'has', key: 'b' },
            { kind: 'has', key: 'c' },
          ],
        },
        { c: '' },
      ),
      true,
    );
  });
});
