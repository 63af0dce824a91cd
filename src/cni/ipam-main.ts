/** `tessera-ipam` entry: the IPAM plugin for any CNI plugin's `ipam` section. */
import { runStandalone } from './standalone.js';

await runStandalone('ipam');
