import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isTesseraError } from '../../lib/errors.js';
import { ALL_SELECTOR, evaluateSelector, labelSelectorToSelector, printSelector, type LabelSelector } from './index.js';

function conversionProblems(ls: unknown): { path: string; message: string }[] {
  try {
    labelSelectorToSelector(ls as LabelSelector);
  } catch (err) {
    assert.ok(isTesseraError(err, 'validation'), String(err));
    return err.problems;
  }
  assert.fail(`expected ${JSON.stringify(ls)} to be rejected`);
}

describe('labelSelectorToSelector', () => {
  test('empty or missing selector is all()', () => {
    assert.deepEqual(labelSelectorToSelector(undefined), ALL_SELECTOR);
    assert.deepEqual(labelSelectorToSelector(null), ALL_SELECTOR);
    assert.deepEqual(labelSelectorToSelector({}), ALL_SELECTOR);
    assert.deepEqual(labelSelectorToSelector({ matchLabels: {}, matchExpressions: [] }), ALL_SELECTOR);
    assert.equal(evaluateSelector(labelSelectorToSelector({}), { any: 'thing' }), true);
  });

  test('matchLabels and matchExpressions are ANDed', () => {
    const s = labelSelectorToSelector({
      matchLabels: { role: 'db', app: 'shop' },
      matchExpressions: [
        { key: 'env', operator: 'In', values: ['prod', 'staging'] },
        { key: 'tier', operator: 'NotIn', values: ['frontend'] },
        { key: 'team', operator: 'Exists' },
        { key: 'legacy', operator: 'DoesNotExist' },
      ],
    });
    assert.equal(
      printSelector(s),
      '!has(legacy) && app == "shop" && env in {"prod", "staging"} && has(team) && role == "db" && tier not in {"frontend"}',
    );
    const base = { role: 'db', app: 'shop', env: 'prod', team: 'x' };
    assert.equal(evaluateSelector(s, base), true);
    assert.equal(evaluateSelector(s, { ...base, tier: 'backend' }), true);
    assert.equal(evaluateSelector(s, { ...base, tier: 'frontend' }), false);
    assert.equal(evaluateSelector(s, { ...base, legacy: '' }), false);
    assert.equal(evaluateSelector(s, { ...base, env: 'dev' }), false);
    const { team: _team, ...noTeam } = base;
    assert.equal(evaluateSelector(s, noTeam), false);
  });

  test('NotIn matches when the key is absent, as Kubernetes does', () => {
    const s = labelSelectorToSelector({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['a'] }] });
    assert.equal(evaluateSelector(s, {}), true);
    assert.equal(evaluateSelector(s, { tier: 'b' }), true);
    assert.equal(evaluateSelector(s, { tier: 'a' }), false);
  });

  test('Exists / DoesNotExist', () => {
    const exists = labelSelectorToSelector({ matchExpressions: [{ key: 'k', operator: 'Exists' }] });
    const absent = labelSelectorToSelector({ matchExpressions: [{ key: 'k', operator: 'DoesNotExist', values: [] }] });
    assert.equal(evaluateSelector(exists, { k: '' }), true);
    assert.equal(evaluateSelector(exists, {}), false);
    assert.equal(evaluateSelector(absent, { k: '' }), false);
    assert.equal(evaluateSelector(absent, {}), true);
  });

  test('rejects unknown operators, In/NotIn without values, values on Exists', () => {
    const problems = conversionProblems({
      matchExpressions: [
        { key: 'a', operator: 'Gt', values: ['1'] },
        { key: 'b', operator: 'In', values: [] },
        { key: 'c', operator: 'NotIn' },
        { key: 'd', operator: 'Exists', values: ['x'] },
      ],
    });
    assert.deepEqual(
      problems.map((p) => p.path),
      [
        'matchExpressions[0].operator',
        'matchExpressions[1].values',
        'matchExpressions[2].values',
        'matchExpressions[3].values',
      ],
    );
    assert.match(problems[0]?.message ?? '', /unknown operator "Gt"/);
    assert.match(problems[1]?.message ?? '', /non-empty when operator is In/);
    assert.match(problems[3]?.message ?? '', /must be empty when operator is Exists/);
  });

  test('rejects bad keys and values', () => {
    const problems = conversionProblems({
      matchLabels: { 'Bad/key': 'v', ok: 'bad value' },
      matchExpressions: [{ key: '-x', operator: 'In', values: ['ok', 'no/slash'] }],
    });
    assert.deepEqual(
      problems.map((p) => p.path),
      ['matchLabels["Bad/key"]', 'matchLabels["ok"]', 'matchExpressions[0].key', 'matchExpressions[0].values[1]'],
    );
    assert.match(problems[1]?.message ?? '', /label value "bad value"/);
  });

  test('rejects wrongly typed input from YAML', () => {
    assert.deepEqual(
      conversionProblems({ matchLabels: ['a'] }).map((p) => p.path),
      ['matchLabels'],
    );
    assert.deepEqual(
      conversionProblems({ matchLabels: { a: 1 } }).map((p) => p.path),
      ['matchLabels["a"]'],
    );
    assert.deepEqual(
      conversionProblems({ matchExpressions: {} }).map((p) => p.path),
      ['matchExpressions'],
    );
    assert.deepEqual(
      conversionProblems({ matchExpressions: [{ key: 1, operator: 'Exists' }, 'x'] }).map((p) => p.path),
      ['matchExpressions[0].key', 'matchExpressions[1]'],
    );
    assert.deepEqual(
      conversionProblems('app=web').map((p) => p.path),
      [''],
    );
  });
});
