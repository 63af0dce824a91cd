import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { captureIO } from './io.js';
import { GROUP_DESCRIPTIONS, registerGroup, verbOf } from './program.js';

test('verbOf skips global options and their values', () => {
  assert.equal(verbOf(['--etcd-endpoints', 'http://x:2379', 'lab', 'up']), 'lab');
  assert.equal(verbOf(['--config', 'f.yaml', '--context', 'c', 'get', 'ippools']), 'get');
  assert.equal(verbOf(['--etcd-endpoints=http://x', 'ipam', 'show']), 'ipam');
  assert.equal(verbOf(['--help']), undefined);
});

test('the top-level help stubs of command groups say what the real registrations say', async () => {
  for (const [group, description] of Object.entries(GROUP_DESCRIPTIONS)) {
    const program = new Command('tessera');
    await registerGroup(program, group as keyof typeof GROUP_DESCRIPTIONS, {
      io: captureIO(),
      run: () => async () => undefined,
      verbDeps: () => assert.fail('registering must not open anything'),
    });
    const real = program.commands.find((c) => c.name() === group);
    assert.ok(real, `registering ${group} adds a "${group}" command`);
    assert.equal(real.description(), description, `stub description of "${group}"`);
  }
});
