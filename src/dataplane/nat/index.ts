/** NAT outgoing for pools with natOutgoing. DESIGN: one small table, rewritten whole atomically. */
export { NAT_TABLE, NatReconciler, renderNatTable, type NatInputs } from './nat.js';
