import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BernsteinError } from '@bernstein/store';
import { listRoles, loadRoleBundle, type RoleBundle } from '@bernstein/prompt-versions';
import { describeTemplatesFolder } from './core/config.js';
import type { FileProject } from './project.js';

export interface ScannedVersion {
  role: string;
  id: string;
  /** Registered by this scan (false: this exact content was known already). */
  new: boolean;
  /** Currently the role's stable version. */
  stable: boolean;
}

/**
 * Register every role bundle on disk. Routing is untouched. All bundles are read and validated
 * before anything is written, so a malformed role fails the scan without a partial registration.
 */
export async function scanVersions(project: FileProject): Promise<{ versions: ScannedVersion[]; warnings: string[] }> {
  const config = await project.config();
  const templatesDir = join(project.paths.root, config.templates);
  // A missing folder is a wrong setting (or the wrong --dir), not "no roles": say which key to fix.
  const folder = await stat(templatesDir).then(
    (info) => (info.isDirectory() ? 'ok' : 'not a folder'),
    () => 'missing',
  );
  if (folder !== 'ok') {
    throw new BernsteinError('CONFIG_INVALID', `no templates folder: ${describeTemplatesFolder(config, project.paths)} ${folder === 'missing' ? 'does not exist' : 'is not a folder'}`, {
      file: project.paths.config,
    });
  }
  const roles = await listRoles(templatesDir);
  const bundles: RoleBundle[] = [];
  for (const role of roles) bundles.push(await loadRoleBundle(templatesDir, role));
  const state = await project.load();
  const versions: ScannedVersion[] = [];
  await project.transaction(async () => {
    for (const bundle of bundles) {
      const { version, isNew } = await project.registry.register(bundle);
      versions.push({ role: bundle.role, id: version.id, new: isNew, stable: state.roles[bundle.role]?.stable === version.id });
    }
  });
  return { versions, warnings: [] };
}
