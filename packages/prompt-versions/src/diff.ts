import { createTwoFilesPatch } from 'diff';
import { stringify } from 'yaml';
import type { ModelConfig } from './bundle.js';

export interface DiffableVersion {
  id: string;
  files: Record<string, string>;
  model: ModelConfig;
}

export interface VersionDiff {
  /** Unified diff of every file that differs, plus the model config as `config.yaml` (keys sorted). */
  patch: string;
  changedFiles: string[];
  modelChanged: boolean;
}

/** Model config rendered canonically, so the diff shows value changes, not key order. */
export function renderModelConfig(model: ModelConfig): string {
  if (Object.keys(model).length === 0) return '';
  return stringify(model, { sortMapEntries: true });
}

export function diffVersions(a: DiffableVersion, b: DiffableVersion): VersionDiff {
  const names = [...new Set([...Object.keys(a.files), ...Object.keys(b.files)])].sort();
  const parts: string[] = [];
  const changedFiles: string[] = [];
  for (const name of names) {
    const before = a.files[name];
    const after = b.files[name];
    if (before === after) continue;
    changedFiles.push(name);
    parts.push(
      createTwoFilesPatch(
        before === undefined ? '/dev/null' : `a/${name}`,
        after === undefined ? '/dev/null' : `b/${name}`,
        before ?? '',
        after ?? '',
        a.id,
        b.id,
      ),
    );
  }
  const modelBefore = renderModelConfig(a.model);
  const modelAfter = renderModelConfig(b.model);
  const modelChanged = modelBefore !== modelAfter;
  if (modelChanged) parts.push(createTwoFilesPatch('a/config.yaml', 'b/config.yaml', modelBefore, modelAfter, a.id, b.id));
  return { patch: parts.join(''), changedFiles, modelChanged };
}

/** Unified diff of one file's text (empty when equal); `before` null means the file does not exist yet. */
export function diffText(name: string, before: string | null, after: string): string {
  if (before === after) return '';
  return createTwoFilesPatch(before === null ? '/dev/null' : `a/${name}`, `b/${name}`, before ?? '', after);
}
