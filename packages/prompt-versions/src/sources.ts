import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, posix, relative, resolve, sep } from 'node:path';
import { BernsteinError } from '@bernstein/store';
import picomatch from 'picomatch';
import { assertRoleName, parseModelConfig, RoleNameSchema, type ModelConfig, type RoleBundle } from './bundle.js';
import { decodeBundleText } from './text.js';

/**
 * Which files make a role's bundle (SPEC, "Bundle sources"): the `bundle:` section of
 * `.sdd/config.yaml`, with the project root it is relative to. Patterns may hold `{role}` and
 * `{templates}`; a pattern without glob characters names a folder (all of it, recursively) or a
 * file, a pattern with them (`*`, `**`, `?`, `[...]`) selects the matching files below its
 * literal prefix.
 */
export interface BundleLayout {
  /** Absolute project root: every path is relative to it, and symlinks must resolve inside it. */
  root: string;
  /** The `templates` setting, relative to root (what `{templates}` stands for). */
  templates: string;
  /** Folders or globs. The first one with `{role}` also says which roles exist. */
  sources: readonly string[];
  /** Files (or globs) every role includes. No `{role}`. */
  shared: readonly string[];
  /** The role's model config file (a YAML mapping); missing means `{}`. */
  modelConfig: string;
  /** Extra ignore patterns, added to DEFAULT_IGNORE (never replacing it). */
  ignore: readonly string[];
}

export const DEFAULT_BUNDLE_SOURCES: readonly string[] = ['{templates}/{role}/'];
export const DEFAULT_MODEL_CONFIG = '{templates}/{role}/config.yaml';
/** Editor backups (`x~`, `#x#`), vim swap files, and dotfiles (`.DS_Store`, `.git`, `.x.swp`). */
export const DEFAULT_IGNORE: readonly string[] = ['*~', '*.swp', '*.swo', '#*#', '.*'];
export const PLACEHOLDERS = ['{role}', '{templates}'] as const;

/** The SPEC's defaults for a project whose role folders are `<root>/<templates>/<role>/`. */
export function defaultBundleLayout(root: string, templates = 'templates/roles'): BundleLayout {
  return { root, templates, sources: DEFAULT_BUNDLE_SOURCES, shared: [], modelConfig: DEFAULT_MODEL_CONFIG, ignore: [] };
}

/**
 * Keys of a version's `files`: relative to the role's folder with a single source and no shared
 * files (so projects on the default layout keep their ids), else relative to the project root
 * (so two sources never collide).
 */
export function keysAreRoleRelative(layout: Pick<BundleLayout, 'sources' | 'shared'>): boolean {
  return layout.sources.length === 1 && layout.shared.length === 0;
}

/** Substitute placeholders and normalise to a posix path relative to the root ('' for the root). */
export function expandPattern(pattern: string, values: { templates: string; role?: string }): string {
  const templates = posix.normalize(values.templates.replaceAll('\\', '/')).replace(/\/+$/, '');
  let text = pattern.replaceAll('{templates}', templates === '.' ? '' : templates);
  if (values.role !== undefined) text = text.replaceAll('{role}', values.role);
  const trailing = text.endsWith('/');
  const normal = posix.normalize(text.replace(/^\/+/, '')).replace(/^\.\/?/, '').replace(/\/+$/, '');
  return trailing && normal !== '' ? `${normal}/` : normal === '.' ? '' : normal;
}

/** The first source with `{role}`: it says which folders are roles. */
export function roleSource(layout: Pick<BundleLayout, 'sources'>): string {
  const source = layout.sources.find((s) => s.includes('{role}'));
  if (source === undefined) throw new BernsteinError('CONFIG_INVALID', 'bundle.sources: no source contains {role}, so no role can be found');
  return source;
}

/** Where the role folders are and how a folder name becomes a role name (and back). */
function roleFolderPattern(layout: BundleLayout): { parent: string; match: (name: string) => string | null; folderOf: (role: string) => string } {
  const pattern = expandPattern(roleSource(layout), { templates: layout.templates });
  const segments = pattern.replace(/\/$/, '').split('/');
  const index = segments.findIndex((segment) => segment.includes('{role}'));
  const segment = segments[index]!;
  const at = segment.indexOf('{role}');
  const [prefix, suffix] = [segment.slice(0, at), segment.slice(at + '{role}'.length)];
  const parent = segments.slice(0, index).join('/');
  return {
    parent,
    match: (name) => (name.length > prefix.length + suffix.length && name.startsWith(prefix) && name.endsWith(suffix) ? name.slice(prefix.length, name.length - suffix.length) : null),
    folderOf: (role) => (parent ? `${parent}/` : '') + prefix + role + suffix,
  };
}

/** Why something under the role folders' parent is not a role (reported by scan, never silent). */
export interface SkippedEntry {
  /** Root-relative path. */
  path: string;
  reason: string;
}

/** Matches ignore patterns: without a `/` against the base name at any depth, with one against the root-relative path. */
export function ignoreMatcher(extra: readonly string[]): (path: string) => boolean {
  const patterns = [...DEFAULT_IGNORE, ...extra];
  const byName = picomatch(patterns.filter((p) => !p.replace(/\/$/, '').includes('/')).map((p) => p.replace(/\/$/, '')), { dot: true });
  const pathPatterns = patterns.filter((p) => p.replace(/\/$/, '').includes('/')).map((p) => p.replace(/^\/+/, '').replace(/\/$/, ''));
  const byPath = pathPatterns.length > 0 ? picomatch(pathPatterns, { dot: true }) : () => false;
  return (path) => byName(posix.basename(path)) || byPath(path);
}

/** A path inside the project root, as the user wrote it (posix, relative). */
function display(root: string, absolute: string): string {
  const rel = relative(root, absolute);
  return rel === '' ? '.' : rel.split(sep).join('/');
}

function isInside(root: string, target: string): boolean {
  const rel = relative(root, target);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * Follow a symlink under the SPEC's rule: allowed when it resolves inside the project root,
 * refused (naming the link) when it points outside, is broken or loops.
 */
async function followLink(rootReal: string, root: string, link: string, role: string | undefined): Promise<{ real: string; isDirectory: boolean }> {
  const name = display(root, link);
  const details = { ...(role !== undefined ? { role } : {}), file: name, symlink: true };
  let real: string;
  try {
    real = await realpath(link);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new BernsteinError('BUNDLE_INVALID', `${name}: symlink forms a cycle; refused`, details);
    if (code === 'ENOENT') throw new BernsteinError('BUNDLE_INVALID', `${name}: symlink is broken (its target does not exist); refused`, details);
    throw new BernsteinError('IO_ERROR', `${name}: cannot resolve symlink (${(error as Error).message})`, details, { cause: error });
  }
  if (!isInside(rootReal, real)) {
    throw new BernsteinError('BUNDLE_INVALID', `${name}: symlink points outside the project root (to ${real}); refused: bundles follow links inside the project only`, details);
  }
  return { real, isDirectory: (await stat(link)).isDirectory() };
}

export interface RoleDiscovery {
  roles: string[];
  skipped: SkippedEntry[];
}

/**
 * The roles: the folders matched by the first source with `{role}` (SPEC), symlinked folders
 * included. Entries beside them that are not roles (loose files, folders whose names are not role
 * names, such as `_includes`) are returned in `skipped` with the reason, unless a shared pattern
 * covers them or an ignore pattern matches them.
 */
export async function discoverRoles(layout: BundleLayout): Promise<RoleDiscovery> {
  const { parent, match } = roleFolderPattern(layout);
  const dir = join(layout.root, parent);
  const ignored = ignoreMatcher(layout.ignore);
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { roles: [], skipped: [] };
    throw new BernsteinError('IO_ERROR', `${display(layout.root, dir)}: cannot list role folders (${(error as Error).message})`, {}, { cause: error });
  }
  const shared = layout.shared.map((p) => expandPattern(p, { templates: layout.templates }));
  const covered = (path: string) => shared.some((p) => p === path || p.startsWith(`${path}/`) || picomatch(p, { dot: true })(path));
  const roles: string[] = [];
  const skipped: SkippedEntry[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const path = parent ? `${parent}/${entry.name}` : entry.name;
    if (ignored(path) || covered(path)) continue;
    let isDirectory = entry.isDirectory();
    if (entry.isSymbolicLink()) isDirectory = await stat(join(dir, entry.name)).then((s) => s.isDirectory(), () => true);
    const role = match(entry.name);
    if (!isDirectory) {
      skipped.push({ path, reason: 'a loose file beside the role folders: not part of any bundle (list it under bundle.shared to include it in every role, or under bundle.ignore to silence this)' });
      continue;
    }
    if (role === null) continue;
    const check = RoleNameSchema.safeParse(role);
    if (!check.success) {
      skipped.push({ path: `${path}/`, reason: `not a role: ${check.error.issues[0]?.message} (list its files under bundle.shared to include them in every role, or under bundle.ignore to silence this)` });
      continue;
    }
    roles.push(role);
  }
  return { roles, skipped };
}

/** A role's bundle as read from disk, with every path it depends on (for caches keyed by disk). */
export interface LoadedBundle {
  bundle: RoleBundle;
  /** Absolute paths of every folder listed and file read (and the model config, read or missing). */
  inputs: string[];
}

/**
 * Read a role's bundle from its sources (SPEC, "Bundle sources"). Throws ROLE_NOT_FOUND when the
 * role's folder (first source with `{role}`) does not exist, BUNDLE_EMPTY when it holds no file
 * and there is no model config, BUNDLE_INVALID (naming the file, and the line where there is one)
 * for a binary or non-UTF-8 file, a refused symlink or an oversized file, and MALFORMED_FILE for
 * a model config that is not a YAML mapping.
 */
export async function readRoleBundle(layout: BundleLayout, role: string): Promise<LoadedBundle> {
  assertRoleName(role);
  const root = resolve(layout.root);
  const rootReal = await realpath(root).catch(() => root);
  const ignored = ignoreMatcher(layout.ignore);
  const roleRelative = keysAreRoleRelative(layout);
  const inputs: string[] = [];
  const modelPath = expandPattern(layout.modelConfig, { templates: layout.templates, role });
  const files = new Map<string, string>();

  const roleDir = join(root, roleFolderPattern(layout).folderOf(role));
  try {
    const link = await lstat(roleDir);
    if (link.isSymbolicLink()) await followLink(rootReal, root, roleDir, role);
    const info = await stat(roleDir);
    if (!info.isDirectory()) throw new BernsteinError('ROLE_NOT_FOUND', `no role "${role}": ${display(root, roleDir)} is not a folder`, { role });
  } catch (error) {
    if (error instanceof BernsteinError) throw error;
    throw new BernsteinError('ROLE_NOT_FOUND', `no role "${role}": ${display(root, roleDir)} does not exist`, { role }, { cause: error });
  }

  const addFile = async (absolute: string, path: string, key: string) => {
    if (path === modelPath || files.has(key)) return;
    const size = (await stat(absolute)).size;
    if (size > MAX_BUNDLE_FILE_BYTES) {
      throw new BernsteinError('BUNDLE_INVALID', `${path} is ${(size / 1024 / 1024).toFixed(1)} MiB; bundle files are limited to ${MAX_BUNDLE_FILE_BYTES / 1024 / 1024} MiB`, { role, file: path });
    }
    inputs.push(absolute);
    files.set(key, decodeBundleText(path, await readFile(absolute), role));
  };

  /** Walk `absolute` (root-relative `path`), calling `take` for every file not ignored. */
  const walk = async (absolute: string, path: string, ancestors: ReadonlySet<string>, take: (absolute: string, path: string) => Promise<void>): Promise<void> => {
    inputs.push(absolute);
    const entries = (await readdir(absolute, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const childPath = path ? `${path}/${entry.name}` : entry.name;
      if (ignored(childPath)) continue;
      const child = join(absolute, entry.name);
      let isDirectory = entry.isDirectory();
      let real = child;
      if (entry.isSymbolicLink()) {
        const followed = await followLink(rootReal, root, child, role);
        isDirectory = followed.isDirectory;
        real = followed.real;
      } else if (!isDirectory && !entry.isFile()) {
        continue; // sockets, fifos, devices: not template files
      }
      if (isDirectory) {
        const realDir = real === child ? await realpath(child) : real;
        // A folder that is, or contains, one being walked leads back into it.
        if ([...ancestors].some((ancestor) => isInside(realDir, ancestor))) throw new BernsteinError('BUNDLE_INVALID', `${childPath}: symlink forms a cycle (it leads back into a folder that contains it); refused`, { role, file: childPath, symlink: true });
        await walk(child, childPath, new Set([...ancestors, realDir]), take);
      } else {
        await take(child, childPath);
      }
    }
  };

  /** Every file of one pattern (a folder, a file or a glob). Missing is empty. */
  const collect = async (pattern: string, keyBase: string | null) => {
    const scanned = picomatch.scan(pattern);
    const base = (scanned.isGlob ? scanned.base : pattern).replace(/\/$/, '');
    const absoluteBase = join(root, base);
    if (!isInside(root, absoluteBase)) throw new BernsteinError('CONFIG_INVALID', `bundle: ${pattern} is outside the project root`);
    const keyOf = (path: string) => (keyBase === null ? path : posix.relative(keyBase, path));
    const matches = scanned.isGlob ? picomatch(pattern, { dot: true }) : () => true;
    let info;
    try {
      info = await lstat(absoluteBase);
    } catch {
      inputs.push(absoluteBase); // missing now; a cache keyed by the inputs notices when it appears
      return;
    }
    if (base !== '' && ignored(base)) return;
    const isDirectory = info.isSymbolicLink() ? (await followLink(rootReal, root, absoluteBase, role)).isDirectory : info.isDirectory();
    if (isDirectory) {
      await walk(absoluteBase, base, new Set([await realpath(absoluteBase)]), async (absolute, path) => {
        if (matches(path)) await addFile(absolute, path, keyOf(path));
      });
    } else if (!scanned.isGlob) {
      await addFile(absoluteBase, base, keyOf(base));
    }
  };

  const sources = layout.sources.map((s) => expandPattern(s, { templates: layout.templates, role }));
  for (const source of sources) {
    const scanned = picomatch.scan(source);
    const keyBase = roleRelative ? (scanned.isGlob ? scanned.base : source).replace(/\/$/, '') : null;
    await collect(source, keyBase);
  }
  // Shared files alone do not make a role: an empty role folder is not a role yet.
  const ownFiles = files.size;
  for (const pattern of layout.shared) await collect(expandPattern(pattern, { templates: layout.templates }), null);

  const model = await readModelConfig(rootReal, root, join(root, modelPath), modelPath, role);
  inputs.push(join(root, modelPath));
  if (ownFiles === 0 && Object.keys(model).length === 0) {
    throw new BernsteinError('BUNDLE_EMPTY', `role "${role}" has no files and no model config (${display(root, roleDir)}/ is empty)`, { role });
  }
  const sorted = [...files.keys()].sort();
  return { bundle: { role, files: Object.fromEntries(sorted.map((key) => [key, files.get(key)!])), model }, inputs };
}

async function readModelConfig(rootReal: string, root: string, absolute: string, path: string, role: string): Promise<ModelConfig> {
  let info;
  try {
    info = await lstat(absolute);
  } catch {
    return {};
  }
  if (info.isSymbolicLink()) await followLink(rootReal, root, absolute, role);
  let bytes: Buffer;
  try {
    bytes = await readFile(absolute);
  } catch (error) {
    throw new BernsteinError('IO_ERROR', `${path}: cannot read the model config (${(error as Error).message})`, { role, file: path }, { cause: error });
  }
  return parseModelConfig(path, decodeBundleText(path, bytes, role));
}

/** Bundle files are read whole into memory and stored in every version: refuse absurd sizes. */
export const MAX_BUNDLE_FILE_BYTES = 8 * 1024 * 1024;

/**
 * Read `<templatesDir>/<role>/` with the default layout (the folder is the project root for
 * symlinks): every file not ignored is a prompt file, `config.yaml` the model config.
 */
export async function loadRoleBundle(layoutOrTemplatesDir: BundleLayout | string, role: string): Promise<RoleBundle> {
  const layout = typeof layoutOrTemplatesDir === 'string' ? defaultBundleLayout(layoutOrTemplatesDir, '.') : layoutOrTemplatesDir;
  return (await readRoleBundle(layout, role)).bundle;
}

/** The role names (see discoverRoles). */
export async function listRoles(layoutOrTemplatesDir: BundleLayout | string): Promise<string[]> {
  const layout = typeof layoutOrTemplatesDir === 'string' ? defaultBundleLayout(layoutOrTemplatesDir, '.') : layoutOrTemplatesDir;
  return (await discoverRoles(layout)).roles;
}
