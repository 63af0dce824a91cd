/** Shared checks for lab tests: what a lab leaves running or mounted. */
import { labTimeoutMs } from '../../src/lab/vm/timeouts.js';
import { readdirSync, readFileSync } from 'node:fs';
import { sleep } from '../../src/lib/clock.js';

/** Pids whose command line mentions `dir` (a lab's state dir): must be none after `lab down`. */
export function processesNaming(dir: string): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((e) => {
      try {
        return readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(dir);
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** A route as `ip -json route` prints it. */
export interface IpRoute {
  dst: string;
  type?: string;
  gateway?: string;
  dev?: string;
  protocol?: string;
  flags?: string[];
}

/**
 * Re-runs `check` (assertions over state another process converges asynchronously) until it passes;
 * after `timeoutMs` its last failure is thrown as is, so the message says what is wrong.
 */
export async function eventually(timeoutMs: number, check: () => Promise<void>, pollMs = 250): Promise<void> {
  // Scaled like the lab's own waits (TESSERA_LAB_TIMEOUT_SCALE: the VM kernel's emulated CPU).
  const deadline = Date.now() + labTimeoutMs(timeoutMs);
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
    await sleep(pollMs);
  }
}
