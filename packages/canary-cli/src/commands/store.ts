import { BernsteinError, projectPaths } from '@bernstein/store';
import { loadProjectConfig } from '@bernstein/canary-router';
import { FileStore } from '@bernstein/store-file';
import { exportProject, importProject, migrateSchema, openPostgresStore, selectStore, type StoreLocation } from '@bernstein/store-postgres';
import { printJson, type GlobalOptions, type Io } from '../output.js';

/**
 * `bernstein store migrate | import | export --to <dir>`: create or upgrade a shared store's
 * schema, copy the `.sdd/` project of --dir into it, write it back out in the file layout.
 * The store is --store, else BERNSTEIN_STORE_URL, else store.url in .sdd/config.yaml.
 */

type PostgresLocation = Extract<StoreLocation, { kind: 'postgres' }>;

async function sharedStore(global: GlobalOptions, command: string): Promise<PostgresLocation> {
  const config = await loadProjectConfig(projectPaths(global.dir));
  const location = selectStore({ flag: global.store, configUrl: config.store.url });
  if (location.kind !== 'postgres') {
    throw new BernsteinError(
      'INVALID_ARGUMENT',
      `bernstein store ${command} works on a shared store, and this project uses the .sdd/ files: give --store postgres://user@host/db (or set BERNSTEIN_STORE_URL or store.url)`,
    );
  }
  return location;
}

export async function migrate(global: GlobalOptions, _options: unknown, io: Io): Promise<number> {
  const location = await sharedStore(global, 'migrate');
  const store = await openPostgresStore(location.connectionString, { root: global.dir, skipSchemaCheck: true });
  try {
    const client = await store.connect('migrate');
    let result;
    try {
      result = await migrateSchema(client);
    } finally {
      client.release();
    }
    if (global.json) {
      printJson(io, { store: location.display, from: result.from, to: result.to, applied: result.applied });
    } else if (result.applied.length === 0) {
      io.stdout(`${location.display}: schema is up to date (version ${result.to}); nothing to do\n`);
    } else {
      const what = result.from === 0 ? `schema created (version ${result.to})` : `schema upgraded from version ${result.from} to ${result.to}`;
      io.stdout(`${location.display}: ${what}\n${result.applied.map((m) => `  applied ${m.version}: ${m.name}\n`).join('')}`);
    }
    return 0;
  } finally {
    await store.close();
  }
}

export async function importCommand(global: GlobalOptions, _options: unknown, io: Io): Promise<number> {
  const location = await sharedStore(global, 'import');
  const source = new FileStore(global.dir);
  const target = await openPostgresStore(location.connectionString, { root: global.dir });
  try {
    const summary = await importProject(target, source, source.name);
    if (global.json) {
      printJson(io, { store: location.display, from: source.name, ...summary });
    } else if (summary.alreadyImported) {
      io.stdout(`nothing to copy: ${location.display} already holds the history of ${source.name}\n`);
    } else {
      io.stdout(
        `imported ${summary.roles.join(', ')} from ${source.name} into ${location.display}: ${summary.versions} versions, ${summary.assignments} assignments, ${summary.outcomes} outcomes, ${summary.auditEvents} audit events, ${summary.alerts} alerts` +
          (summary.revisionOffset > 0 ? ` (revisions renumbered after the database's ${summary.revisionOffset})` : '') +
          '\n',
      );
    }
    return 0;
  } finally {
    await target.close();
    await source.close();
  }
}

export async function exportCommand(global: GlobalOptions, options: { to: string }, io: Io): Promise<number> {
  const location = await sharedStore(global, 'export');
  const source = await openPostgresStore(location.connectionString, { root: global.dir });
  let clock = new Date();
  const target = new FileStore(options.to, { now: () => clock });
  try {
    const summary = await exportProject(source, options.to, {
      transaction: (fn) => target.transaction({ project: true }, fn),
      setClock: (at) => {
        clock = at;
      },
    });
    if (global.json) printJson(io, { store: location.display, ...summary });
    else io.stdout(`exported ${location.display} to ${target.name}: ${summary.roles.length} roles, ${summary.versions} versions, ${summary.records} ledger records, ${summary.auditEvents} audit events\n`);
    return 0;
  } finally {
    await source.close();
    await target.close();
  }
}
