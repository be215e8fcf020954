import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { colourWanted, cutLongInput, MAX_ECHOED, MAX_LINE } from './output.js';

describe('colourWanted', () => {
  it('colours a terminal only; NO_COLOR turns it off, FORCE_COLOR on (and wins), CI does not matter', () => {
    const tty = { isTTY: true };
    const pipe = { isTTY: false };
    expect(colourWanted(tty, {})).toBe(true);
    expect(colourWanted(pipe, {})).toBe(false);
    expect(colourWanted(pipe, { CI: 'true' })).toBe(false);
    expect(colourWanted(tty, { TERM: 'dumb' })).toBe(false);
    expect(colourWanted(tty, { NO_COLOR: '1' })).toBe(false);
    expect(colourWanted(tty, { NO_COLOR: '' })).toBe(true);
    expect(colourWanted(pipe, { FORCE_COLOR: '1' })).toBe(true);
    expect(colourWanted(pipe, { FORCE_COLOR: '' })).toBe(true);
    expect(colourWanted(tty, { FORCE_COLOR: '0' })).toBe(false);
    expect(colourWanted(pipe, { FORCE_COLOR: '1', NO_COLOR: '1' })).toBe(true);
  });
});

describe('cutLongInput', () => {
  it('leaves ordinary messages alone and cuts long runs to head, length and tail', () => {
    const message = 'unknown version "3fa9" in /srv/app/.sdd/config/prompt_versions.json';
    expect(cutLongInput(message)).toBe(message);
    const cut = cutLongInput(`invalid task id "${'a'.repeat(4990)}tail-of-id"`);
    expect(cut).toMatch(/^invalid task id "a{100}…\(5,000 chars\)…a{30}tail-of-id"$/);
  });

  it('bounds every line and every run, whatever the input', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 3000 }), fc.string({ minLength: MAX_ECHOED + 1, maxLength: 6000 }).map((s) => s.replace(/\s/g, 'x')), (prefix, run) => {
        const out = cutLongInput(`${prefix} ${run}`);
        expect(out.length).toBeLessThanOrEqual(MAX_LINE + 40);
        for (const word of out.split(/\s+/)) expect(word.length).toBeLessThanOrEqual(200);
      }),
    );
  });
});
