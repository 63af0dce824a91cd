/**
 * lib: errors, clock, exec, ip/cidr math, logging. Everything else builds on these.
 * DESIGN: `exec.ts` is the only child_process user; pure modules never import it.
 */
export * from './errors.js';
export * from './clock.js';
export * from './exec.js';
export * from './ip.js';
export * from './cidr-lookup.js';
export * from './marks.js';
export * from './paths.js';
