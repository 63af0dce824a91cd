import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchFields, matchLabels, parseFieldSelector, parseLabelSelector } from './selectors.js';

const sel = (text: string) => {
  const r = parseLabelSelector(text);
  if (!r.ok) throw new Error(r.error);
  return r.value;
};

test('label selectors: equality and set-based requirements', () => {
  const labels = { app: 'web', tier: 'front', 'example.com/team': 'a' };
  const cases: [string, boolean][] = [
    ['', true],
    ['app=web', true],
    ['app==web', true],
    ['app!=web', false],
    ['app!=db', true],
    ['missing!=x', true],
    ['app in (web,db)', true],
    ['app in (db)', false],
    ['app notin (db, cache)', true],
    ['app notin (web)', false],
    ['tier', true],
    ['!tier', false],
    ['!missing', true],
    ['example.com/team=a,app in (web),!missing', true],
    ['app=web,tier=back', false],
    ['app=', false],
  ];
  for (const [text, want] of cases) assert.equal(matchLabels(sel(text), labels), want, text);
  assert.equal(matchLabels(sel('x notin (a)'), undefined), true);
  assert.equal(matchLabels(sel('x'), undefined), false);
});

test('label selectors: bad input is an error naming the requirement', () => {
  for (const bad of ['app in web', '=web', 'app=we b', 'a,,b', '-bad=x']) {
    const r = parseLabelSelector(bad);
    assert.equal(r.ok, false, bad);
    if (!r.ok) assert.match(r.error, /unable to parse requirement/);
  }
});

test('field selectors: metadata and per-kind fields; unknown fields rejected', () => {
  const pod = {
    metadata: { name: 'web', namespace: 'shop' },
    spec: { nodeName: 'node-1' },
    status: { phase: 'Running' },
  };
  const f = (t: string, kind = 'Pod') => {
    const r = parseFieldSelector(t, kind);
    if (!r.ok) throw new Error(r.error);
    return r.value;
  };
  assert.equal(matchFields(f('spec.nodeName=node-1'), pod), true);
  assert.equal(matchFields(f('spec.nodeName=node-2'), pod), false);
  assert.equal(matchFields(f('spec.nodeName!=node-2,metadata.name=web'), pod), true);
  assert.equal(matchFields(f('metadata.namespace==shop,status.phase=Running'), pod), true);
  assert.equal(matchFields(f('spec.nodeName='), { metadata: { name: 'x' } }), true);
  const r = parseFieldSelector('spec.nodeName=x', 'Namespace');
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.error, /field label not supported: spec\.nodeName/);
});
