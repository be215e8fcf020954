import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { stringify } from 'yaml';

/** A role bundle on disk: prompt files, and config.yaml as a mapping or as raw YAML text. */
export interface RoleSpec {
  files?: Record<string, string>;
  model?: Record<string, unknown> | string;
}

export interface ProjectSpec {
  roles?: Record<string, RoleSpec>;
  /** `.sdd/config.yaml`: raw YAML text, or an object to serialise. */
  config?: string | Record<string, unknown>;
  /** Templates folder relative to the root (default templates/roles). */
  templates?: string;
}

const created: string[] = [];

/** A throw-away project root with role templates (and optionally .sdd/config.yaml). */
export class TempProject {
  readonly dir: string;
  readonly templates: string;

  constructor(spec: ProjectSpec = {}, prefix = 'bernstein-e2e-') {
    this.dir = mkdtempSync(join(tmpdir(), prefix));
    created.push(this.dir);
    this.templates = spec.templates ?? 'templates/roles';
    for (const [role, roleSpec] of Object.entries(spec.roles ?? {})) this.writeRole(role, roleSpec);
    if (spec.config !== undefined) this.writeConfig(spec.config);
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  get sdd(): string {
    return this.path('.sdd');
  }

  roleDir(role: string): string {
    return this.path(this.templates, role);
  }

  /** (Re)write a role folder completely. */
  writeRole(role: string, spec: RoleSpec): void {
    const dir = this.roleDir(role);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const [name, text] of Object.entries(spec.files ?? { 'system_prompt.md': `You are the ${role} agent.\n` })) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    if (spec.model !== undefined) {
      writeFileSync(join(dir, 'config.yaml'), typeof spec.model === 'string' ? spec.model : stringify(spec.model));
    }
  }

  /** Overwrite one file of a role. */
  writeRoleFile(role: string, name: string, text: string): void {
    const file = join(this.roleDir(role), name);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
  }

  readRoleFile(role: string, name: string): string {
    return readFileSync(join(this.roleDir(role), name), 'utf8');
  }

  writeConfig(config: string | Record<string, unknown>): void {
    mkdirSync(this.sdd, { recursive: true });
    writeFileSync(join(this.sdd, 'config.yaml'), typeof config === 'string' ? config : stringify(config));
  }

  /** Files under .sdd/ */
  get files() {
    const sdd = this.sdd;
    return {
      registry: join(sdd, 'config', 'prompt_versions.json'),
      canary: join(sdd, 'config', 'canary.json'),
      config: join(sdd, 'config.yaml'),
      versions: join(sdd, 'versions'),
    };
  }

  readJson<T = any>(file: string): T {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  }

  registry(): Registry {
    return this.readJson<Registry>(this.files.registry);
  }

  state(): CanaryStateFile {
    return this.readJson<CanaryStateFile>(this.files.canary);
  }

  /** Every JSONL line of every *.jsonl file under .sdd/ (the ledger and the audit log). */
  jsonlRecords(): Array<Record<string, any>> {
    const out: Array<Record<string, any>> = [];
    for (const file of listFiles(this.sdd)) {
      if (!file.endsWith('.jsonl')) continue;
      for (const line of readFileSync(join(this.sdd, file), 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        out.push(JSON.parse(line) as Record<string, any>);
      }
    }
    return out;
  }

  /** Ledger records (task assignments, outcomes and late outcomes), wherever the ledger lives under .sdd/. */
  ledger(): Array<Record<string, any>> {
    return this.jsonlRecords().filter((r) => r.type === 'assign' || r.type === 'outcome' || r.type === 'late');
  }

  /** Audit events, wherever the audit log lives under .sdd/. */
  audit(): Array<Record<string, any>> {
    return this.jsonlRecords().filter((r) => typeof r.action === 'string' && 'actor' in r);
  }

  /**
   * sha256 of every file under .sdd/, by relative path: compare before and after a command.
   * `exclude` leaves out matching relative paths (e.g. a derived, rebuildable cache).
   */
  snapshot(exclude?: RegExp): Record<string, string> {
    const out: Record<string, string> = {};
    if (!existsSync(this.sdd)) return out;
    for (const file of listFiles(this.sdd)) {
      if (exclude?.test(file)) continue;
      out[file] = createHash('sha256').update(readFileSync(join(this.sdd, file))).digest('hex');
    }
    return out;
  }
}

export interface Registry {
  schemaVersion: number;
  versions: Record<string, { id: string; hash: string; role: string; model: Record<string, unknown>; fileNames: string[] }>;
  roles: Record<string, { history: Array<{ versionId: string; at: string }> }>;
}

export interface CanaryStateFile {
  schemaVersion: number;
  revision: number;
  roles: Record<
    string,
    {
      stable: string | null;
      previousStables: string[];
      rejected: string[];
      canary: null | { id: string; versionId: string; percentage: number; steps: number[]; epoch: number; baseVersionId: string | null };
    }
  >;
}

function listFiles(root: string, dir = root): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(root, path));
    else if (entry.isFile()) out.push(relative(root, path));
  }
  return out.sort();
}

export function makeProject(spec: ProjectSpec = {}): TempProject {
  return new TempProject(spec);
}

/** Remove every project made by this test file (call from afterAll). */
export function removeProjects(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}


/** One line of `canary route --json` (SPEC: `files`, or `filesHash` with --no-files). */
export interface Routed {
  taskId: string;
  role: string;
  arm: 'stable' | 'canary';
  versionId: string;
  canaryId: string | null;
  model: Record<string, unknown>;
  files?: Record<string, string>;
  filesHash?: string;
}
