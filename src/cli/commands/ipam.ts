import type { Command } from 'commander';

/** Placeholder so main.ts compiles; the ipam component's owner replaces this file. */
export function registerIpam(_program: Command): void {}
