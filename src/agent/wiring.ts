/**
 * Which drivers and services an agent runs. Kept apart from agent.ts so the core loop has no
 * compile-time dependency on every dataplane, and tests can run an agent with none.
 */
import { join } from 'node:path';
import { startCniServer } from '../cni/index.js';
import { createBgpDriver } from '../bgp/index.js';
import { ResourceStore } from '../datastore/index.js';
import { PolicyDriver } from './policy-driver.js';
import type { AgentOptions } from './agent.js';
import type { DataplaneDriver } from './driver.js';

type BaseOptions = Omit<AgentOptions, 'drivers' | 'services'>;

/** The agent's drivers, and a typed handle on the policy driver for the services that need it. */
export interface DefaultDrivers {
  policy: PolicyDriver;
  all: DataplaneDriver[];
}

export function defaultDrivers(options: BaseOptions): DefaultDrivers {
  const policy = new PolicyDriver({
    nodeName: options.nodeName,
    logger: options.logger,
    ...(options.nft ? { nft: options.nft } : {}),
  });
  const drivers: DataplaneDriver[] = [policy];
  if (options.routing === 'bgp') {
    // BIRD learns and programs native pod routes (proto bird); the agent keeps only tunnel routes.
    drivers.push(
      createBgpDriver({
        nodeName: options.nodeName,
        stateDir: options.stateDir,
        logger: options.logger,
        store: new ResourceStore(options.backend),
      }),
    );
  }
  return { policy, all: drivers };
}

export function defaultServices(
  options: BaseOptions,
  drivers: Pick<DefaultDrivers, 'policy'>,
): NonNullable<AgentOptions['services']> {
  return [
    {
      // The CNI fast path: the tessera-cni shim forwards each invocation here, where the datastore
      // connection and the IPAM client are already warm (no Node start per pod).
      name: 'cni-server',
      async start(ctx) {
        const server = await startCniServer({
          socketPath: join(options.stateDir, 'cni.sock'),
          backend: options.backend,
          ipam: ctx.ipam,
          nodeName: options.nodeName,
          onInvocation: (info) => ctx.log.info(info, 'cni invocation'),
          whenProgrammed: async (iface, signal) => {
            const done = drivers.policy.whenProgrammed(iface, signal);
            ctx.kick();
            await done;
          },
        });
        return { stop: () => server.close() };
      },
    },
  ];
}
