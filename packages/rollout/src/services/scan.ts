import { stat } from 'node:fs/promises';
import { BernsteinError, projectPaths } from '@bernstein/store';
import { describeTemplatesFolder } from '@bernstein/canary-router';
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
