/**
 * The lab VM's control channel: the host's `tessera lab ...` runs the same command inside the VM
 * over HTTP (QEMU user networking forwards a loopback port of the host to the VM's server).
 * `POST /run` with `{ argv }` answers with newline-delimited JSON frames: `{ fd: 1|2, data }`
 * (base64) while the command runs, then `{ exit }`. `POST /shutdown` ends the server (and the VM).
 */
export const VM_CONTROL_PORT = 7070;
/** The VM forwards this port to the etcd of the lab it runs (the host's CLI context points at it). */
export const VM_ETCD_PORT = 12379;
/** The VM's address on QEMU's user-mode network. */
export const VM_GUEST_ADDRESS = '10.0.2.15';

export interface RunRequest {
  argv: string[];
}

export type RunFrame = { fd: 1 | 2; data: string } | { exit: number };

export function encodeFrame(f: RunFrame): string {
  return `${JSON.stringify(f)}\n`;
}

/** Splits a stream of frames; returns the complete frames and the unfinished rest. */
export function decodeFrames(buffered: string): { frames: RunFrame[]; rest: string } {
  const parts = buffered.split('\n');
  const rest = parts.pop() ?? '';
  const frames: RunFrame[] = [];
  for (const p of parts) {
    if (p.trim() === '') continue;
    frames.push(JSON.parse(p) as RunFrame);
  }
  return { frames, rest };
}
