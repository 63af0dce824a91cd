import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { captureIO } from './io.js';
import { buildProgram, GROUP_DESCRIPTIONS, registerGroup, verbOf } from './program.js';

test('verbOf skips global options and their values', () => {
  assert.equal(verbOf(['--etcd-endpoints', 'http://x:2379', 'lab', 'up']), 'lab');
  assert.equal(verbOf(['--config', 'f.yaml', '--context', 'c', 'get', 'ippools']), 'get');
  assert.equal(verbOf(['--etcd-endpoints=http://x', 'ipam', 'show']), 'ipam');
  assert.equal(verbOf(['--help']), undefined);
});

const leaves = (c: Command): Command[] => (c.commands.length ? c.commands.flatMap(leaves) : [c]);

test('every command group is registered by program.ts, each subcommand an (args, deps) verb', async () => {
  // Every command with subcommands is one of the groups (or `context`, which program.ts builds
  // inline), so no group can register itself outside this check.
  const full = await buildProgram({ io: captureIO(), openStore: () => assert.fail('no store'), env: {} });
  assert.deepEqual(
    full.commands
      .filter((c) => c.commands.length > 0 || c.name() in GROUP_DESCRIPTIONS)
      .map((c) => c.name())
      .sort(),
    [...Object.keys(GROUP_DESCRIPTIONS), 'context'].sort(),
  );
  for (const [group, description] of Object.entries(GROUP_DESCRIPTIONS)) {
    const program = new Command('tessera');
    let wrapped = 0;
    await registerGroup(program, group as keyof typeof GROUP_DESCRIPTIONS, {
      run: () => {
        wrapped++;
        return async () => undefined;
      },
      verbDeps: () => assert.fail('registering must not open anything'),
    });
    const real = program.commands.find((c) => c.name() === group);
    assert.ok(real, `registering ${group} adds a "${group}" command`);
    // The top-level help's stub says what the real registration says.
    assert.equal(real.description(), description, `stub description of "${group}"`);
    // Each subcommand's action is a verb call that program.ts wraps (its exit code, its deps).
    const subs = leaves(real).map((c) => c.name());
    assert.ok(subs.length > 0 && subs[0] !== group, `"${group}" has subcommands`);
    assert.equal(wrapped, subs.length, `every "${group}" subcommand (${subs.join(', ')}) is a verb`);
  }
});

test('command files are verbs: no commander, no process output, exit or environment of their own', () => {
  const dir = join(import.meta.dirname, 'commands');
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  assert.ok(files.includes('lab.ts') && files.includes('demo.ts'), files.join(', '));
  for (const f of files) {
    const text = readFileSync(join(dir, f), 'utf8');
    for (const bad of [
      /from 'commander'/,
      /\bprocess\.(stdout|stderr|stdin|exit|exitCode|env|argv)\b/,
      /export function register/,
    ])
      assert.doesNotMatch(text, bad, `src/cli/commands/${f}`);
  }
});
