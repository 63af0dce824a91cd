/**
 * The node agent (Felix's job): datastore mirror -> pure calculators -> reconcilers.
 * DESIGN: see agent.ts header. Public entry for other components (lab, tests).
 */
export { Agent, type AgentOptions, type DataplaneDriver } from './agent.js';
export { DatastoreMirror, type MirrorChange, type MirrorUpdate } from './mirror.js';
export { parseAutodetectMethod, chooseAddress, detectNodeAddress } from './autodetect.js';
export { Throttler } from './throttler.js';
