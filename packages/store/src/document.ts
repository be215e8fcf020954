import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { writeJsonAtomic } from './atomic.js';
import { BernsteinError, MalformedFileError } from './errors.js';
import { formatZodIssues } from './zod-format.js';

/** Upgrades a parsed document of version `from` to `from + 1`. Pure; never writes the file. */
export type Migration = (document: Record<string, unknown>) => Record<string, unknown>;

export interface DocumentSpec<Schema extends z.ZodType> {
  /** What the file is, for error messages ("canary state"). */
  label: string;
  /** The schema of the current version; must include `schemaVersion: z.literal(currentVersion)`. */
  schema: Schema;
  currentVersion: number;
  /** migrations[v] upgrades version v to v + 1. */
  migrations?: Record<number, Migration>;
  /** The document a missing file stands for. */
  empty: () => z.output<Schema>;
  /**
   * A file without `schemaVersion` may be another tool's file at the same path: return what it is
   * and how to move on (reported instead of only "missing schemaVersion"), or undefined.
   */
  recogniseUnversioned?: (document: Record<string, unknown>) => string | undefined;
}

/**
 * A schema-versioned JSON file. Loading validates with zod and migrates older versions in
 * memory; a malformed file is reported with its path (and line for syntax errors), never
 * rewritten. Saving is an atomic replace; callers hold the project lock when they read-modify-write.
 */
export interface JsonDocument<Schema extends z.ZodType> {
  readonly spec: DocumentSpec<Schema>;
  load(file: string): Promise<z.output<Schema>>;
  /** Like load, but also says whether the file existed. */
  loadWithPresence(file: string): Promise<{ value: z.output<Schema>; exists: boolean }>;
  parse(file: string, text: string): z.output<Schema>;
  save(file: string, value: z.output<Schema>): Promise<void>;
}

export function defineJsonDocument<Schema extends z.ZodType>(spec: DocumentSpec<Schema>): JsonDocument<Schema> {
  const parse = (file: string, text: string): z.output<Schema> => {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw new MalformedFileError(file, `not valid JSON (${(error as Error).message})`, jsonErrorLine(text, error as Error), {
        cause: error,
      });
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new MalformedFileError(file, `expected a JSON object (${spec.label})`);
    }
    let document = raw as Record<string, unknown>;
    const version = document.schemaVersion;
    if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
      const foreign = version === undefined ? spec.recogniseUnversioned?.(document) : undefined;
      if (foreign) throw new MalformedFileError(file, foreign);
      throw new MalformedFileError(file, `missing or invalid "schemaVersion" (${spec.label})`);
    }
    if (version > spec.currentVersion) {
      throw new BernsteinError(
        'UNSUPPORTED_SCHEMA_VERSION',
        `${file}: schemaVersion ${version} is newer than this tool understands (${spec.currentVersion}); upgrade @bernstein packages`,
        { file, version },
      );
    }
    for (let v = version; v < spec.currentVersion; v++) {
      const migrate = spec.migrations?.[v];
      if (!migrate) {
        throw new BernsteinError('UNSUPPORTED_SCHEMA_VERSION', `${file}: no migration from schemaVersion ${v}`, { file, version: v });
      }
      document = { ...migrate(document), schemaVersion: v + 1 };
    }
    const result = spec.schema.safeParse(document);
    if (!result.success) {
      throw new MalformedFileError(file, `invalid ${spec.label}: ${formatZodIssues(result.error.issues)}`);
    }
    return result.data;
  };

  const loadWithPresence = async (file: string) => {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { value: spec.empty(), exists: false };
      throw new BernsteinError('IO_ERROR', `${file}: cannot read (${(error as Error).message})`, { file }, { cause: error });
    }
    return { value: parse(file, text), exists: true };
  };

  return {
    spec,
    parse,
    loadWithPresence,
    load: async (file) => (await loadWithPresence(file)).value,
    save: (file, value) => writeJsonAtomic(file, value),
  };
}

/** V8 says "... at position N" (and newer versions "(line L column C)"): turn it into a line. */
function jsonErrorLine(text: string, error: Error): number | undefined {
  const lineMatch = /line (\d+)/.exec(error.message);
  if (lineMatch) return Number(lineMatch[1]);
  const positionMatch = /position (\d+)/.exec(error.message);
  if (!positionMatch) return text.length === 0 ? 1 : lineFromYamlParser(text);
  const position = Number(positionMatch[1]);
  let line = 1;
  for (let i = 0; i < position && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * Some V8 messages carry no position. JSON is YAML 1.2, so the YAML parser (which tracks
 * positions) usually finds the same fault and says where.
 */
function lineFromYamlParser(text: string): number | undefined {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: false });
  return document.errors[0]?.linePos?.[0]?.line;
}
