/** `tessera-cni` pure TypeScript entry (the C shim execs this when no agent socket answers). */
import { runStandalone } from './standalone.js';

await runStandalone('cni');
