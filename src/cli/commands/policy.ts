import type { Command } from 'commander';

/** Placeholder so main.ts compiles; the policy component's owner replaces this file. */
export function registerPolicy(_program: Command): void {}
