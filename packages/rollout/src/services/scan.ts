import { listRoles, loadRoleBundle, type RoleBundle } from '@bernstein/prompt-versions';
import type { Rollout } from '../rollout.js';

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
export async function scanVersions(rollout: Rollout): Promise<{ versions: ScannedVersion[]; warnings: string[] }> {
  const templatesDir = await rollout.templatesDir();
  const roles = await listRoles(templatesDir);
  const bundles: RoleBundle[] = [];
  for (const role of roles) bundles.push(await loadRoleBundle(templatesDir, role));
  const state = await rollout.store.loadState();
  const versions: ScannedVersion[] = [];
  // Registration is content-addressed and idempotent: no role needs locking.
  await rollout.store.transaction({ roles: [] }, async (tx) => {
    for (const bundle of bundles) {
      const { version, isNew } = await tx.registerVersion(bundle);
      versions.push({ role: bundle.role, id: version.id, new: isNew, stable: state.roles[bundle.role]?.stable === version.id });
    }
  });
  return { versions, warnings: [] };
}
