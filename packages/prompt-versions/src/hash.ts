import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { RoleBundle } from './bundle.js';

/** Length of a version id: the first 12 hex chars of the SHA-256 hash. */
export const VERSION_ID_LENGTH = 12;

/**
 * RFC 8785 (JSON Canonicalization Scheme) of `{ role, files, model }`: object keys sorted by
 * code unit at every depth, no whitespace, fixed number formatting. So YAML key order and
 * formatting never change the hash, while any change to prompt text does, byte for byte. (Line
 * endings are normalised when a bundle is read from disk, see text.ts, not here: a stored version
 * keeps hashing to its id.)
 */
export function canonicalBundle(bundle: RoleBundle): string {
  const text = canonicalize({ role: bundle.role, files: bundle.files, model: bundle.model });
  if (text === undefined) throw new Error('bundle cannot be canonicalized');
  return text;
}

export interface BundleHash {
  /** SHA-256 hex, 64 chars. */
  hash: string;
  /** First 12 hex chars of `hash`. */
  id: string;
}

export function hashBundle(bundle: RoleBundle): BundleHash {
  const hash = createHash('sha256').update(canonicalBundle(bundle), 'utf8').digest('hex');
  return { hash, id: hash.slice(0, VERSION_ID_LENGTH) };
}

/**
 * SHA-256 hex of the RFC 8785 form of a version's files (name to text): what `canary route
 * --no-files` gives instead of the files, so an orchestrator that caches content can check it.
 */
export function hashFiles(files: Record<string, string>): string {
  const text = canonicalize(files);
  if (text === undefined) throw new Error('files cannot be canonicalized');
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Whether two model configs are the same mapping (key order and YAML formatting aside). */
export function sameModelConfig(a: RoleBundle['model'], b: RoleBundle['model']): boolean {
  return canonicalize(a) === canonicalize(b);
}
