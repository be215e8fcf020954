import { stat } from 'node:fs/promises';
import { BernsteinError, projectPaths } from '@bernstein/store';
import { discoverRoles, expandPattern, roleSource, type SkippedEntry } from '@bernstein/prompt-versions';
import { bundleLayout, describeTemplatesFolder } from '@bernstein/canary-router';
import type { Rollout } from '../rollout.js';
import { readDisk, registerDisk, type DiskRead } from './disk.js';

export interface ScannedVersion {
  role: string;
  id: string;
  /** Registered by this scan (false: this exact content was known already). */
  new: boolean;
  /** Currently the role's stable version. */
  stable: boolean;
}

/** A role whose files cannot be read as a bundle: reported, and the other roles are still registered. */
export interface InvalidRole {
  role: string;
  code: string;
  /** One line naming the file (and line). */
  message: string;
}

export interface ScanResult {
  versions: ScannedVersion[];
  invalid: InvalidRole[];
  /** Entries beside the role folders that are not roles (loose files, `_includes`, empty folders), with why. */
  skipped: SkippedEntry[];
  warnings: string[];
}

/**
 * Register every valid role bundle on disk (SPEC, `versions scan`). The roles are the ones route
 * knows (the folders matched by the first source with `{role}`). A role seen for the first time
 * gets its bundle as stable (Routing rule 2); an existing stable is never changed and no canary
 * is ever started. A role whose files are broken is reported in `invalid` and does not stop the
 * others.
 */
export async function scanVersions(rollout: Rollout): Promise<ScanResult> {
  const config = await rollout.config();
  const templatesDir = await rollout.templatesDir();
  // A missing folder is a wrong setting (or the wrong --dir), not "no roles": say which key to fix.
  const folder = await stat(templatesDir).then(
    (info) => (info.isDirectory() ? 'ok' : 'not a folder'),
    () => 'missing',
  );
  if (folder !== 'ok') {
    const paths = projectPaths(rollout.root);
    throw new BernsteinError('CONFIG_INVALID', `no templates folder: ${describeTemplatesFolder(config, paths)} ${folder === 'missing' ? 'does not exist' : 'is not a folder'}`, {
      file: paths.config,
    });
  }
  const { roles, skipped } = await discoverRoles(bundleLayout(rollout.root, config));
  const result = await rollout.store.transaction({ roles: [...roles].sort() }, async (tx) => {
    let state = await tx.loadState();
    const reads: Array<{ role: string; read: Extract<DiskRead, { ok: true }> }> = [];
    const invalid: InvalidRole[] = [];
    for (const role of roles) {
      const read = await readDisk(rollout, tx, role, state.roles[role]);
      if (read.ok) reads.push({ role, read });
      else if (read.state === 'empty') skipped.push({ path: expandPattern(roleSource(config.bundle), { templates: config.templates, role }), reason: 'an empty role folder: not a role until it holds a file' });
      else invalid.push({ role, code: read.error.code, message: read.error.message });
    }
    const versions: ScannedVersion[] = [];
    for (const { role, read } of reads) {
      const { isNew } = await registerDisk(tx, read);
      if (!state.roles[role]?.stable) {
        const reason = `first time role "${role}" was seen (versions scan): its bundle on disk becomes stable`;
        state = (await tx.applyTransitions([rollout.request({ type: 'init', role, versionId: read.versionId }, 'auto', reason)], { observedDisk: { role, versionId: read.versionId } })).state;
      }
      versions.push({ role, id: read.versionId, new: isNew, stable: state.roles[role]?.stable === read.versionId });
    }
    return { versions, invalid, skipped, warnings: [] };
  });
  return result;
}
