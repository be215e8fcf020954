import { join } from 'node:path';
import { listRoles, loadRoleBundle, type RoleBundle } from '@bernstein/prompt-versions';
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
