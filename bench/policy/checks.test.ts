import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkPasses, formatCheck, type TargetCheck } from './checks.js';

const latency = (value: number): TargetCheck => ({
  label: 'p99',
  value,
  target: 250,
  unit: 'ms',
  direction: 'at-most',
});
const ratio = (value: number): TargetCheck => ({
  label: 'rate ratio',
  value,
  target: 0.9,
  unit: '',
  direction: 'at-least',
});

test('an at-most target passes up to and including the target', () => {
  assert.equal(checkPasses(latency(250)), true);
  assert.equal(checkPasses(latency(250.1)), false);
});

test('an at-least target passes from the target up', () => {
  assert.equal(checkPasses(ratio(0.9)), true);
  assert.equal(checkPasses(ratio(0.89)), false);
});

test('a missing measurement (NaN or Infinity) never passes', () => {
  assert.equal(checkPasses(latency(Number.NaN)), false);
  assert.equal(checkPasses(latency(Infinity)), false);
  assert.equal(checkPasses(ratio(Infinity)), false);
});

test('the line shows value, unit, target direction and verdict', () => {
  assert.match(formatCheck(latency(306)), /^p99 +306\.0 ms {2}\(target <= 250 ms\) {2}FAIL$/);
  assert.match(formatCheck(ratio(0.95)), /^rate ratio +0\.95 {2}\(target >= 0\.9\) {2}PASS$/);
  assert.match(formatCheck(latency(Number.NaN)), /n\/a .*FAIL$/);
});
