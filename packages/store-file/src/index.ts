/**
 * @bernstein/store-file: the `.sdd/` file adapter of the @bernstein/rollout storage port.
 */
export { FileStore, openFileRollout, openFileStore } from './file-store.js';
export { auditLogSpec } from './audit-file.js';
export { ledgerLog } from './ledger-file.js';
