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

/** The model settings file inside a role folder (default layout). */
export const MODEL_CONFIG_FILE = 'config.yaml';

/** Throws INVALID_ROLE for names that could escape the templates folder or are not portable. */
export function assertRoleName(role: string): void {
  const result = RoleNameSchema.safeParse(role);
  if (!result.success) {
    throw new BernsteinError('INVALID_ROLE', `invalid role name ${JSON.stringify(role)}: ${result.error.issues[0]?.message}`, { role });
  }
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
