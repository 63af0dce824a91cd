/** What every controller shares: its context, its lifecycle, and the keyed queue wiring. */
import type { Logger } from 'pino';
import type { Backend } from '../datastore/index.js';
import type { Clock } from '../lib/clock.js';
import type { EventRecorder } from './events.js';
import type { ControllerMetrics } from './metrics.js';

export interface ControllerContext {
  backend: Backend;
  metrics: ControllerMetrics;
  logger: Logger;
  clock: Clock;
  /** Kubernetes Events for what users must see (absent in tests that do not look). */
  events?: EventRecorder;
}

export interface Controller {
  readonly name: string;
  /** True once the first full sync (Kubernetes list ⇄ datastore) is done. */
  readonly synced: boolean;
  readonly queueDepth: number;
  start(signal: AbortSignal): Promise<void>;
  stop(): void;
  /** Resolves when the controller has nothing left to do right now (tests). */
  idle(): Promise<void>;
}

/** `ns/name` for namespaced objects, `name` otherwise. */
export const objectKey = (name: string, namespace?: string): string => (namespace ? `${namespace}/${name}` : name);

export function splitKey(key: string): { name: string; namespace?: string } {
  const i = key.indexOf('/');
  return i < 0 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
