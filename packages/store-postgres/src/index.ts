/**
 * @bernstein/store-postgres: the PostgreSQL adapter of the storage port (fleet mode).
 */
export { openPostgresStore, PostgresStore, type PostgresStoreOptions } from './store.js';
export { migrateSchema, schemaVersionOf, assertSchemaVersion, type MigrateResult } from './migrate.js';
export { MIGRATIONS, SCHEMA_VERSION, type Migration } from './schema.js';
export { DEFAULT_POOL_SETTINGS, type PoolSettings } from './pool.js';
export { parseStoreUrl, redactUrl, redactSecrets, selectStore, substituteEnv, STORE_URL_ENV, type StoreLocation, type StoreSelectionInput, type StoreUrlSource } from './url.js';
export { importProject, type ImportSummary } from './import.js';
export { exportProject, type ExportSummary, type FileTarget } from './export.js';
