import type { Command } from 'commander';

/** Placeholder so main.ts compiles; the lab component's owner replaces this file. */
export function registerLab(_program: Command): void {}
