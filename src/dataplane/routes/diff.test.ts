import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffRoutes, parseKernelRoutes, renderRoute } from './diff.js';

const kernel = JSON.stringify([
  { type: 'blackhole', dst: '10.244.0.0/26', flags: [] },
  { dst: '10.244.0.5', dev: 'tsrabc', scope: 'link', flags: [] },
  { dst: '10.244.0.9', dev: 'tsrnew', scope: 'link', flags: [] },
  { dst: '10.244.1.0/26', gateway: '10.9.0.2', dev: 'eth0', flags: [] },
  { dst: '10.244.2.0/26', gateway: '10.9.0.3', dev: 'tessera.vxlan', flags: ['onlink'] },
  { dst: '10.244.3.0/26', gateway: '10.9.0.4', dev: 'eth0', flags: [] },
]);

test('parses kernel JSON into canonical routes', () => {
  const routes = parseKernelRoutes(kernel, 4);
  assert.equal(routes.length, 6);
  assert.deepEqual(routes[1], { family: 4, dst: '10.244.0.5/32', type: 'unicast', dev: 'tsrabc', scope: 'link' });
  assert.equal(routes[4]?.onlink, true);
});

test('diff deletes only unwanted routes, keeps unknown workload device routes, replaces changed ones', () => {
  const actual = parseKernelRoutes(kernel, 4);
  const d = diffRoutes(
    [
      { family: 4, dst: '10.244.0.0/26', type: 'blackhole' },
      { family: 4, dst: '10.244.0.5/32', type: 'unicast', dev: 'tsrabc', scope: 'link' },
      { family: 4, dst: '10.244.1.0/26', type: 'unicast', via: '10.9.0.2' },
      { family: 4, dst: '10.244.2.0/26', type: 'unicast', via: '10.9.0.7', dev: 'tessera.vxlan', onlink: true },
    ],
    actual,
    (dev) => dev.startsWith('tsr'),
  );
  assert.deepEqual(d.lines, [
    'route del 10.244.3.0/26 proto 80',
    'route replace 10.244.2.0/26 via 10.9.0.7 dev tessera.vxlan onlink proto 80',
  ]);
  assert.equal(d.deletes, 1);
  assert.equal(d.replaces, 1);
});

test('an in-sync kernel gives an empty diff', () => {
  const actual = parseKernelRoutes(kernel, 4);
  assert.deepEqual(diffRoutes(actual, actual, () => false).lines, []);
});

test('renders IPv6 and blackhole routes with the Tessera protocol', () => {
  assert.equal(
    renderRoute({ family: 6, dst: 'fd00::/122', type: 'blackhole' }),
    'route replace blackhole fd00::/122 proto 80',
  );
});
