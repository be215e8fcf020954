import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JsonValue, RoleBundle } from './bundle.js';
import { canonicalBundle, hashBundle } from './hash.js';
import { parseModelConfig } from './bundle.js';

const bundle: RoleBundle = {
  role: 'backend',
  files: { 'system_prompt.md': 'You are a backend engineer.\n', 'task_prompt.md': 'Do {{task}}.\n' },
  model: { default_model: 'sonnet', default_effort: 'high' },
};

/** Rebuild every object with its keys in a shuffled order. */
function shuffleKeys(value: JsonValue, seed: number): JsonValue {
  if (Array.isArray(value)) return value.map((v, i) => shuffleKeys(v, seed + i));
  if (value && typeof value === 'object') {
    const keys = Object.keys(value);
    const order = keys.map((k, i) => [k, Math.sin(seed * 31 + i * 17)] as const).sort((a, b) => a[1] - b[1]);
    // fromEntries defines own properties, so a "__proto__" key stays a key.
    return Object.fromEntries(order.map(([k]) => [k, shuffleKeys(value[k]!, seed + 1)]));
  }
  return value;
}

describe('hashBundle', () => {
  it('gives a 64-hex hash whose first 12 chars are the id', () => {
    const { hash, id } = hashBundle(bundle);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(id).toBe(hash.slice(0, 12));
  });

  it('is pinned: the canonical form and hash are stable across releases', () => {
    expect(canonicalBundle(bundle)).toBe(
      '{"files":{"system_prompt.md":"You are a backend engineer.\\n","task_prompt.md":"Do {{task}}.\\n"},"model":{"default_effort":"high","default_model":"sonnet"},"role":"backend"}',
    );
  });

  it('does not depend on YAML key order or formatting', () => {
    const a = parseModelConfig('a.yaml', 'default_model: sonnet\ndefault_effort: high\nlimits: {tokens: 100, retries: 2}\n');
    const b = parseModelConfig('b.yaml', '# comment\nlimits:\n  retries: 2\n  tokens: 100\ndefault_effort: "high"\ndefault_model:   sonnet\n');
    expect(hashBundle({ ...bundle, model: a }).id).toBe(hashBundle({ ...bundle, model: b }).id);
  });

  it('property: key order never changes the hash', () => {
    const json = fc.jsonValue() as fc.Arbitrary<JsonValue>;
    fc.assert(
      fc.property(fc.dictionary(fc.string(), json), fc.dictionary(fc.string(), fc.string()), fc.integer(), (model, files, seed) => {
        const a: RoleBundle = { role: 'r', files, model };
        const b: RoleBundle = { role: 'r', files: shuffleKeys(files, seed) as Record<string, string>, model: shuffleKeys(model, seed) as Record<string, JsonValue> };
        expect(hashBundle(a).hash).toBe(hashBundle(b).hash);
      }),
      { numRuns: 300 },
    );
  });

  it('property: any change to prompt text changes the id, byte for byte', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.nat(), fc.string({ minLength: 1, maxLength: 3 }), (text, at, insert) => {
        const position = text.length === 0 ? 0 : at % (text.length + 1);
        const changed = text.slice(0, position) + insert + text.slice(position);
        const a = hashBundle({ ...bundle, files: { 'p.md': text } });
        const b = hashBundle({ ...bundle, files: { 'p.md': changed } });
        expect(a.id).not.toBe(b.id);
      }),
      { numRuns: 500 },
    );
    // Whitespace and line endings are content too.
    expect(hashBundle({ ...bundle, files: { 'p.md': 'a\n' } }).id).not.toBe(hashBundle({ ...bundle, files: { 'p.md': 'a\r\n' } }).id);
    expect(hashBundle({ ...bundle, files: { 'p.md': 'a' } }).id).not.toBe(hashBundle({ ...bundle, files: { 'p.md': 'a ' } }).id);
  });

  it('changes when the model, the role or a file name changes', () => {
    const base = hashBundle(bundle).id;
    expect(hashBundle({ ...bundle, model: { ...bundle.model, default_model: 'opus' } }).id).not.toBe(base);
    expect(hashBundle({ ...bundle, role: 'frontend' }).id).not.toBe(base);
    expect(hashBundle({ ...bundle, files: { 'system.md': bundle.files['system_prompt.md']!, 'task_prompt.md': bundle.files['task_prompt.md']! } }).id).not.toBe(base);
  });
});
