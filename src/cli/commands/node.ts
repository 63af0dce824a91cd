import type { Command } from 'commander';

/** Placeholder so main.ts compiles; the node component's owner replaces this file. */
export function registerNode(_program: Command): void {}
