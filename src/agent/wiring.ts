/**
 * Which drivers and services an agent runs. Kept apart from agent.ts so the core loop has no
 * compile-time dependency on every dataplane, and tests can run an agent with none.
 */
import type { AgentOptions, DataplaneDriver } from './agent.js';

type BaseOptions = Omit<AgentOptions, 'drivers' | 'services'>;

export function defaultDrivers(options: BaseOptions): DataplaneDriver[] {
  void options;
  return [];
}

export function defaultServices(options: BaseOptions): NonNullable<AgentOptions['services']> {
  void options;
  return [];
}
