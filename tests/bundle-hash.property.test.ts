/**
 * Property test of bundle ids, through the real loader on real files: for random bundles, a CRLF
 * (or lone CR) checkout hashes equal to the LF one, any other byte change does not, and files
 * matched by an ignore pattern (the defaults or the project's) never change the id.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { defaultBundleLayout, hashBundle, readRoleBundle, type BundleLayout } from '@bernstein/prompt-versions';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';

const roots: string[] = [];
afterAll(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** Write `files` (name to bytes) as a project; returns its root. */
function project(files: Record<string, Buffer>): string {
  const root = mkdtempSync(join(tmpdir(), 'bernstein-prop-'));
  roots.push(root);
  for (const [name, bytes] of Object.entries(files)) {
    mkdirSync(dirname(join(root, name)), { recursive: true });
    writeFileSync(join(root, name), bytes);
  }
  return root;
}

async function idOf(files: Record<string, Buffer>, layout: (root: string) => BundleLayout): Promise<string> {
  const root = project(files);
  return hashBundle((await readRoleBundle(layout(root), 'r')).bundle).id;
}

/** Text with plenty of line breaks, blanks and non-ASCII, LF only. */
const lfText = fc
  .array(fc.oneof(fc.constantFrom('\n', '\n', ' ', '\t', 'é', '→', '日本', '{{task}}', '# '), fc.string({ unit: 'grapheme-ascii', maxLength: 6 }).map((s) => s.replace(/\r/g, ''))), { maxLength: 40 })
  .map((parts) => parts.join(''));
const fileName = fc.constantFrom('system_prompt.md', 'task_prompt.md', 'snippets/review.md', 'references/a.md', 'scripts/run.sh');
const bundleFiles = fc.dictionary(fileName, lfText, { minKeys: 1, maxKeys: 4 });
const modelText = fc.constantFrom('', 'default_model: sonnet\n', 'default_model: opus\ndefault_effort: high\nlimits:\n  tokens: 100\n');

/**
 * Each LF becomes LF, CRLF or CR, chosen by `choices` (the same file in another checkout). A lone
 * CR right before the next LF would read as CRLF, so there it is CRLF.
 */
function withLineEndings(text: string, choices: readonly number[]): string {
  let i = 0;
  return text.replace(/\n/g, (_match, offset: number) => {
    const ending = ['\n', '\r\n', '\r'][choices[i++ % choices.length]! % 3]!;
    return ending === '\r' && text[offset + 1] === '\n' ? '\r\n' : ending;
  });
}

const asFiles = (files: Record<string, string>, model: string, prefix = 'templates/roles/r/'): Record<string, Buffer> => ({
  ...Object.fromEntries(Object.entries(files).map(([name, text]) => [`${prefix}${name}`, Buffer.from(text, 'utf8')])),
  ...(model ? { [`${prefix}config.yaml`]: Buffer.from(model, 'utf8') } : {}),
});

const layouts: Record<string, (root: string) => BundleLayout> = {
  default: (root) => defaultBundleLayout(root),
  upstream: (root) => ({ ...defaultBundleLayout(root), sources: ['{templates}/{role}/', 'templates/skills/{role}/'], shared: ['templates/shared/*.md'], ignore: ['*.txt'] }),
};

describe.each(Object.entries(layouts))('bundle ids (%s layout)', (_name, layout) => {
  it('property: CRLF and lone-CR variants of every file hash equal to the LF one', async () => {
    await fc.assert(
      fc.asyncProperty(bundleFiles, modelText, fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), async (files, model, choices) => {
        const variant = Object.fromEntries(Object.entries(files).map(([name, text]) => [name, withLineEndings(text, choices)]));
        expect(await idOf(asFiles(variant, withLineEndings(model, choices)), layout)).toBe(await idOf(asFiles(files, model), layout));
      }),
      { numRuns: 40 },
    );
  });

  it('property: any other byte change changes the id', async () => {
    await fc.assert(
      fc.asyncProperty(bundleFiles, modelText, fc.nat(), fc.nat(), fc.integer({ min: 0x20, max: 0x7e }), async (files, model, pick, at, byte) => {
        const names = Object.keys(files).sort();
        const name = names[pick % names.length]!;
        const bytes = Buffer.from(files[name]!, 'utf8');
        let changed: Buffer;
        if (bytes.length === 0 || at % 3 === 0) {
          // Insert a printable byte.
          // At a character boundary, so the text stays UTF-8.
          const boundaries = [...Array(bytes.length + 1).keys()].filter((i) => i === bytes.length || (bytes[i]! & 0xc0) !== 0x80);
          const position = boundaries[at % boundaries.length]!;
          changed = Buffer.concat([bytes.subarray(0, position), Buffer.from([byte]), bytes.subarray(position)]);
        } else {
          // Replace an ASCII byte by another printable one (non-ASCII bytes are left alone so the text stays UTF-8).
          const ascii = [...bytes.keys()].filter((i) => bytes[i]! < 0x80 && bytes[i] !== byte);
          if (ascii.length === 0) return;
          changed = Buffer.from(bytes);
          changed[ascii[at % ascii.length]!] = byte;
        }
        const base = asFiles(files, model);
        const edited = { ...base, [`templates/roles/r/${name}`]: changed };
        expect(await idOf(edited, layout)).not.toBe(await idOf(base, layout));
      }),
      { numRuns: 40 },
    );
  });

  it('property: ignored files never change the id', async () => {
    const ignoredName = fc.constantFrom('system_prompt.md~', '.system_prompt.md.swp', 'x.swo', '#draft.md#', '.DS_Store', '.hidden/notes.md', 'sub/.env', 'sub/old.md~');
    await fc.assert(
      fc.asyncProperty(bundleFiles, modelText, fc.dictionary(ignoredName, fc.uint8Array({ maxLength: 32 })), async (files, model, junk) => {
        const base = asFiles(files, model);
        const withJunk = { ...base, ...Object.fromEntries(Object.entries(junk).map(([name, bytes]) => [`templates/roles/r/${name}`, Buffer.from(bytes)])) };
        expect(await idOf(withJunk, layout)).toBe(await idOf(base, layout));
      }),
      { numRuns: 40 },
    );
  });
});

describe('project ignore patterns', () => {
  it('property: files matched by the project\'s own patterns never change the id', async () => {
    await fc.assert(
      fc.asyncProperty(bundleFiles, fc.dictionary(fc.constantFrom('notes.txt', 'todo.txt', 'sub/scratch.txt'), lfText), async (files, notes) => {
        const base = asFiles(files, '');
        const withNotes = { ...base, ...asFiles(notes, '') };
        expect(await idOf(withNotes, layouts.upstream!)).toBe(await idOf(base, layouts.upstream!));
      }),
      { numRuns: 30 },
    );
  });
});
