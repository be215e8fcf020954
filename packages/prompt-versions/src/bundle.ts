import { readdir, readFile, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { BernsteinError, MalformedFileError, parseYamlWithSchema } from '@bernstein/store';
import { z } from 'zod';

/** JSON-compatible values: what a model config may hold, so that it hashes the same everywhere. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export const JsonValueSchema: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.string(), z.number().finite(), z.boolean(), z.null(), z.array(JsonValueSchema), z.record(z.string(), JsonValueSchema)]),
);

export const ModelConfigSchema = z.record(z.string(), JsonValueSchema);
export type ModelConfig = z.infer<typeof ModelConfigSchema>;

export const RoleNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a role name is 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit')
  .refine((name) => !name.includes('..'), 'a role name may not contain ".."')
  .refine((name) => !isReservedName(name), 'a role name may not be a built-in object property name such as "constructor" or "toString"');

/**
 * Names that are properties of every JavaScript object (`constructor`, `toString`, `__proto__`,
 * ...). Roles and gates are keys of JSON maps, so these are refused wherever such a key is named.
 */
export function isReservedName(name: string): boolean {
  return name in Object.prototype;
}

/** All that defines a role's agents: its prompt files (name to text) and its model config. */
export const RoleBundleSchema = z.object({
  role: RoleNameSchema,
  files: z.record(z.string(), z.string()),
  model: ModelConfigSchema,
});
export type RoleBundle = z.infer<typeof RoleBundleSchema>;

/** The model settings file inside a role folder; every other (non-hidden) file is a prompt file. */
export const MODEL_CONFIG_FILE = 'config.yaml';
/** Prompt files are read whole into memory and stored in every version: refuse absurd sizes. */
export const MAX_PROMPT_FILE_BYTES = 8 * 1024 * 1024;

/** Throws INVALID_ROLE for names that could escape the templates folder or are not portable. */
export function assertRoleName(role: string): void {
  const result = RoleNameSchema.safeParse(role);
  if (!result.success) {
    throw new BernsteinError('INVALID_ROLE', `invalid role name ${JSON.stringify(role)}: ${result.error.issues[0]?.message}`, { role });
  }
}

/** Role folders under the templates directory, sorted. A missing directory has no roles. */
export async function listRoles(templatesDir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(templatesDir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new BernsteinError('IO_ERROR', `${templatesDir}: cannot list role folders (${(error as Error).message})`, {}, { cause: error });
  }
  return entries
    .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.') && RoleNameSchema.safeParse(entry.name).success)
    .map((entry) => entry.name)
    .sort();
}

/**
 * Read `templatesDir/<role>/`: every non-hidden regular file (recursively, posix-style relative
 * names) except `config.yaml` is a prompt file, read as strict UTF-8 so that no byte is lost;
 * `config.yaml` is the model config (a YAML mapping; missing means `{}`).
 */
export async function loadRoleBundle(templatesDir: string, role: string): Promise<RoleBundle> {
  assertRoleName(role);
  const roleDir = join(templatesDir, role);
  try {
    const info = await stat(roleDir);
    if (!info.isDirectory()) throw new BernsteinError('ROLE_NOT_FOUND', `${roleDir} is not a directory`, { role });
  } catch (error) {
    if (error instanceof BernsteinError) throw error;
    throw new BernsteinError('ROLE_NOT_FOUND', `no role "${role}": ${roleDir} does not exist`, { role }, { cause: error });
  }

  const files: Record<string, string> = {};
  let model: ModelConfig = {};
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      const name = prefix ? posix.join(prefix, entry.name) : entry.name;
      if (entry.isDirectory()) {
        await walk(path, name);
        continue;
      }
      if (!entry.isFile()) continue;
      const size = (await stat(path)).size;
      if (size > MAX_PROMPT_FILE_BYTES) {
        throw new BernsteinError(
          'BUNDLE_INVALID',
          `${path} is ${(size / 1024 / 1024).toFixed(1)} MiB; prompt files are limited to ${MAX_PROMPT_FILE_BYTES / 1024 / 1024} MiB`,
          { role, file: path },
        );
      }
      const bytes = await readFile(path);
      if (name === MODEL_CONFIG_FILE) {
        model = parseModelConfig(path, bytes.toString('utf8'));
        continue;
      }
      try {
        files[name] = decoder.decode(bytes);
      } catch {
        throw new BernsteinError('BUNDLE_INVALID', `${path} is not valid UTF-8 text; prompt files must be UTF-8`, { role, file: path });
      }
    }
  };
  await walk(roleDir, '');
  if (Object.keys(files).length === 0 && Object.keys(model).length === 0) {
    throw new BernsteinError('BUNDLE_INVALID', `role "${role}" has no prompt files and no ${MODEL_CONFIG_FILE} in ${roleDir}`, { role });
  }
  return { role, files, model };
}

/** Parse a role's config.yaml: a mapping of JSON-compatible values (errors name file and line). */
export function parseModelConfig(file: string, text: string): ModelConfig {
  if (text.trim() === '') return {};
  const parsed = parseYamlWithSchema(file, text, z.unknown());
  if (parsed.value === null || parsed.value === undefined) return {};
  const result = ModelConfigSchema.safeParse(parsed.value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const line = parsed.lineOf(issue.path) ?? parsed.lineOf(issue.path.slice(0, -1));
    const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
    throw new MalformedFileError(file, `${where}model config must be a mapping of plain values (strings, numbers, booleans, lists, mappings)`, line);
  }
  return result.data;
}

/** The stable bundle with its model replaced: what `config canary --model <name>` canaries. */
export function withModel(bundle: RoleBundle, model: string, key = 'default_model'): RoleBundle {
  return { ...bundle, model: { ...bundle.model, [key]: model } };
}
