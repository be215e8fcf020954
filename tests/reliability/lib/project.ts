/**
 * Throw-away projects and raw views of their `.sdd/` files, read independently of the packages
 * (so a bug in a reader cannot hide itself).
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

const created: string[] = [];

export function removeProjects(): void {
  if (process.env.KEEP_RELIABILITY_PROJECTS) return;
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export interface ProjectSpec {
  /** role -> files (name -> text); config.yaml among them is the model config. */
  roles?: Record<string, Record<string, string>>;
  /** raw text of .sdd/config.yaml */
  config?: string;
}

export class Project {
  /** A private parent folder, so that writes beside the project root can be seen too. */
  readonly home: string;
  readonly dir: string;

  constructor(spec: ProjectSpec = {}, prefix = 'bernstein-rel-') {
    this.home = mkdtempSync(join(tmpdir(), prefix));
    created.push(this.home);
    this.dir = join(this.home, 'project');
    mkdirSync(join(this.dir, '.sdd'), { recursive: true });
    for (const [role, files] of Object.entries(spec.roles ?? {})) this.writeRole(role, files);
    if (spec.config !== undefined) this.writeConfig(spec.config);
  }

  /** A copy of `source` (its whole project folder) in a fresh home. */
  static copyOf(source: Project, prefix = 'bernstein-rel-'): Project {
    const copy = new Project({}, prefix);
    rmSync(copy.dir, { recursive: true, force: true });
    cpSync(source.dir, copy.dir, { recursive: true });
    return copy;
  }

  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  sdd(...parts: string[]): string {
    return join(this.dir, '.sdd', ...parts);
  }

  writeRole(role: string, files: Record<string, string>): void {
    const dir = this.path('templates', 'roles', role);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, name)), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
  }

  writeConfig(text: string): void {
    writeFileSync(this.sdd('config.yaml'), text);
  }

  read(file: string): string {
    return readFileSync(file, 'utf8');
  }

  /** Parsed JSON lines of a log; the torn tail (no final newline) and fence markers are left out. */
  logLines(name: 'ledger.jsonl' | 'audit.jsonl'): Array<Record<string, any>> {
    const file = this.sdd(name);
    if (!existsSync(file)) return [];
    const text = readFileSync(file, 'utf8');
    const lines = text.split('\n');
    lines.pop(); // after the last "\n": '' or a torn fragment
    const out: Array<Record<string, any>> = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.trim() === '') continue;
      let value: Record<string, any>;
      try {
        value = JSON.parse(line);
      } catch {
        // a torn fragment must be followed by a fence marker
        const next = lines[i + 1];
        if (next !== undefined && next.includes('"$tornTail"')) continue;
        throw new Error(`${file}:${i + 1}: unparseable line that is not fenced: ${line.slice(0, 200)}`);
      }
      if ('$tornTail' in value) continue;
      const next = lines[i + 1];
      if (next !== undefined && next.includes('"$tornTail"')) continue; // disowned by the marker
      out.push(value);
    }
    return out;
  }

  json(file: string): any {
    return JSON.parse(readFileSync(file, 'utf8'));
  }

  state(): any {
    return this.json(this.sdd('config', 'canary.json'));
  }
}

/** sha256 of every regular file under `root` (relative paths), skipping `skip(relPath)`. */
export function snapshot(root: string, skip: (rel: string) => boolean = () => false): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      const rel = relative(root, full);
      if (skip(rel)) continue;
      if (entry.isDirectory()) {
        out.set(`${rel}/`, 'dir');
        walk(full);
      } else if (entry.isSymbolicLink()) {
        out.set(rel, `symlink`);
      } else {
        out.set(rel, createHash('sha256').update(readFileSync(full)).digest('hex'));
      }
    }
  };
  if (existsSync(root) && lstatSync(root).isDirectory()) walk(root);
  return out;
}

/** What differs between two snapshots (added, removed, changed), for messages. */
export function snapshotDiff(before: Map<string, string>, after: Map<string, string>): string[] {
  const diffs: string[] = [];
  for (const [k, v] of after) if (!before.has(k)) diffs.push(`+ ${k}`);
  else if (before.get(k) !== v) diffs.push(`~ ${k}`);
  for (const k of before.keys()) if (!after.has(k)) diffs.push(`- ${k}`);
  return diffs.sort();
}

/** Everything under .sdd/ except the transient lock directory. */
export function sddSnapshot(project: Project): Map<string, string> {
  return snapshot(project.sdd(), (rel) => rel === 'lock' || rel.startsWith('lock/') || rel.endsWith('.lock'));
}

/** A small deterministic 32-bit hash of a string, for outcomes that depend on the task id only. */
export function fnv(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
