import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { validateLabelKey, validateLabelValue } from './index.js';

describe('validateLabelKey', () => {
  test('accepts plain and prefixed keys', () => {
    for (const k of [
      'a',
      'app',
      'A-b_c.d9',
      'projectcalico.org/namespace',
      'kubernetes.io/metadata.name',
      'x'.repeat(63),
    ]) {
      assert.equal(validateLabelKey(k), undefined, k);
    }
    assert.equal(validateLabelKey(`${'a'.repeat(253)}/${'b'.repeat(63)}`), undefined);
  });

  test('rejects bad names, prefixes and lengths', () => {
    const bad: [string, RegExp][] = [
      ['', /name part must be non-empty/],
      ['-a', /must start and end with an alphanumeric/],
      ['a-', /must start and end with an alphanumeric/],
      ['a b', /alphanumeric/],
      ['x'.repeat(64), /no more than 63 characters/],
      ['/a', /prefix part must be non-empty/],
      ['a/', /name part must be non-empty/],
      ['Example.com/a', /lowercase RFC 1123 subdomain/],
      ['ex_ample.com/a', /lowercase RFC 1123 subdomain/],
      ['a/b/c', /name part/],
      [`${'a'.repeat(254)}/b`, /no more than 253 characters/],
    ];
    for (const [k, re] of bad) {
      const msg = validateLabelKey(k);
      assert.ok(msg !== undefined, `expected ${JSON.stringify(k)} to be rejected`);
      assert.match(msg, re);
      assert.ok(msg.includes(JSON.stringify(k)), 'message quotes the key');
    }
  });
});

describe('validateLabelValue', () => {
  test('accepts empty and 63-char values', () => {
    assert.equal(validateLabelValue(''), undefined);
    assert.equal(validateLabelValue('v'.repeat(63)), undefined);
    assert.equal(validateLabelValue('a.b-c_D9'), undefined);
  });
  test('rejects long values and bad characters', () => {
    assert.match(validateLabelValue('v'.repeat(64)) ?? '', /no more than 63/);
    assert.match(validateLabelValue('a/b') ?? '', /alphanumeric/);
    assert.match(validateLabelValue('-a') ?? '', /start and end/);
    assert.match(validateLabelValue('a"') ?? '', /alphanumeric/);
  });
});
