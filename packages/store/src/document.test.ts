import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineJsonDocument } from './document.js';
import { BernsteinError, MalformedFileError } from './errors.js';
import { parseYamlWithSchema } from './yaml.js';

const doc = defineJsonDocument({
  label: 'test document',
  schema: z.object({ schemaVersion: z.literal(2), items: z.array(z.string()) }),
  currentVersion: 2,
  migrations: { 1: (d) => ({ items: (d.list as string[]) ?? [] }) },
  empty: () => ({ schemaVersion: 2 as const, items: [] }),
});

async function file(text?: string): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'bernstein-doc-')), 'doc.json');
  if (text !== undefined) await writeFile(path, text);
  return path;
}

describe('defineJsonDocument', () => {
  it('treats a missing file as the empty document', async () => {
    expect(await doc.loadWithPresence(await file())).toEqual({ value: { schemaVersion: 2, items: [] }, exists: false });
  });

  it('round-trips through an atomic save', async () => {
    const path = await file();
    await doc.save(path, { schemaVersion: 2, items: ['a'] });
    expect(await doc.load(path)).toEqual({ schemaVersion: 2, items: ['a'] });
    expect((await readFile(path, 'utf8')).endsWith('\n')).toBe(true);
  });

  it('migrates older versions in memory without rewriting the file', async () => {
    const path = await file('{"schemaVersion":1,"list":["x"]}');
    expect(await doc.load(path)).toEqual({ schemaVersion: 2, items: ['x'] });
    expect(await readFile(path, 'utf8')).toBe('{"schemaVersion":1,"list":["x"]}');
  });

  it('names the file and the line of a syntax error', async () => {
    const path = await file('{\n  "schemaVersion": 2,\n  "items": [,]\n}');
    const error = await doc.load(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MalformedFileError);
    expect((error as Error).message).toMatch(new RegExp(`^${path}:3: not valid JSON`));
  });

  it('names the key that does not match the schema', async () => {
    const path = await file('{"schemaVersion":2,"items":[1]}');
    await expect(doc.load(path)).rejects.toThrow(/items\[0\]/);
  });

  it('refuses a newer schema version with a clear code', async () => {
    const path = await file('{"schemaVersion":3,"items":[]}');
    const error = await doc.load(path).catch((e: unknown) => e);
    expect((error as BernsteinError).code).toBe('UNSUPPORTED_SCHEMA_VERSION');
  });

  it('refuses files without a schema version, or that are not objects', async () => {
    await expect(doc.load(await file('{"items":[]}'))).rejects.toThrow(/schemaVersion/);
    await expect(doc.load(await file('[]'))).rejects.toThrow(/expected a JSON object/);
    await expect(doc.load(await file(''))).rejects.toThrow(/not valid JSON/);
  });
});

describe('parseYamlWithSchema', () => {
  const schema = z.strictObject({ name: z.string(), count: z.number().int().default(1) });

  it('validates a section and keeps other keys out of it', () => {
    const parsed = parseYamlWithSchema('c.yaml', 'other: 1\nsection:\n  name: x\n', schema, { select: ['section'] });
    expect(parsed.value).toEqual({ name: 'x', count: 1 });
  });

  it('names file, line and key for a wrong type', () => {
    expect(() => parseYamlWithSchema('c.yaml', 'section:\n  name: x\n  count: many\n', schema, { select: ['section'] })).toThrow(
      /^c\.yaml:3: section\.count: /,
    );
  });

  it('names the line of an unknown key', () => {
    expect(() => parseYamlWithSchema('c.yaml', 'section:\n  name: x\n\n  colour: red\n', schema, { select: ['section'] })).toThrow(
      /^c\.yaml:4: section\.colour: unknown key "colour"/,
    );
  });

  it('names the line of a YAML syntax error and of a duplicate key', () => {
    expect(() => parseYamlWithSchema('c.yaml', 'a: [1, 2\nb: 3\n', z.unknown())).toThrow(/^c\.yaml:\d+: invalid YAML/);
    expect(() => parseYamlWithSchema('c.yaml', 'a: 1\na: 2\n', z.unknown())).toThrow(/^c\.yaml:2: invalid YAML/);
  });
});
