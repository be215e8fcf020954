import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BernsteinError, writeFileAtomic } from '@bernstein/store';
import { assertRoleName, decodeBundleText, diffText, expandPattern, parseModelConfig, sameModelConfig, type JsonValue } from '@bernstein/prompt-versions';
import { isNode, parseDocument, stringify } from 'yaml';
import { bundleLayout } from '@bernstein/canary-router';
import type { Rollout } from '../rollout.js';

/** What `config sync-model` does (or would do) to a role's model config file. */
export interface ModelSync {
  role: string;
  /** The model config file, relative to the project root (`bundle.model_config`). */
  file: string;
  servingVersionId: string;
  /** Unified diff of the file; empty when disk already holds the serving model. */
  patch: string;
  changed: boolean;
  written: boolean;
}

/**
 * Bring the role's model config on disk in line with the serving stable version (SPEC, Routing
 * rule 8: after a promoted `--model` canary, disk still names the old model). Only the keys that
 * differ are set or removed, so comments and key order in the file are kept. With `dryRun`,
 * nothing is written. A model config that does not parse is an error, never overwritten.
 */
export async function syncModelToDisk(rollout: Rollout, role: string, options: { dryRun?: boolean } = {}): Promise<ModelSync> {
  assertRoleName(role);
  // Scoped to the role: no route of it acts on the half-written file meanwhile.
  return rollout.store.transaction({ roles: [role] }, async (tx) => {
    const config = await rollout.config();
    const roleState = (await tx.loadState()).roles[role];
    if (!roleState?.stable) throw new BernsteinError('ROLE_NOT_FOUND', `role "${role}" has no stable version yet: nothing to sync (route a task or run \`bernstein versions scan\` first)`, { role });
    const serving = (await tx.resolveVersion(roleState.stable)).model;
    const file = expandPattern(config.bundle.modelConfig, { templates: config.templates, role });
    const absolute = join(bundleLayout(rollout.root, config).root, file);
    let before: string | null = null;
    try {
      before = decodeBundleText(file, await readFile(absolute), role);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    let after: string;
    if (before === null || before.trim() === '') {
      after = Object.keys(serving).length > 0 ? stringify(serving) : '';
    } else {
      const current = parseModelConfig(file, before); // refuses a broken file, naming file and line
      const document = parseDocument(before);
      for (const key of Object.keys(current)) if (!Object.hasOwn(serving, key)) document.delete(key);
      for (const [key, value] of Object.entries(serving)) {
        if (Object.hasOwn(current, key) && sameModelConfig({ v: current[key] as JsonValue }, { v: value })) continue;
        const node = document.get(key, true);
        if (isNode(node) && 'value' in node && typeof value !== 'object') (node as { value: unknown }).value = value;
        else document.set(key, value);
      }
      after = document.toString();
    }
    if (!sameModelConfig(after.trim() === '' ? {} : parseModelConfig(file, after), serving)) {
      throw new BernsteinError('BUNDLE_INVALID', `${file}: could not write the serving model without changing other settings; edit it by hand`, { role });
    }
    const patch = diffText(file, before, after);
    const changed = before !== after && !(before !== null && sameModelConfig(parseModelConfig(file, before), serving));
    const written = changed && !options.dryRun;
    if (written) await writeFileAtomic(absolute, after);
    return { role, file, servingVersionId: roleState.stable, patch: changed ? patch : '', changed, written };
  });
}
