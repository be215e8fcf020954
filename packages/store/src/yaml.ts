import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { MalformedFileError } from './errors.js';
import { formatPath } from './zod-format.js';

export interface ParsedYaml<T> {
  value: T;
  /** 1-based line of the node at `path`, if it exists in the source. */
  lineOf(path: readonly PropertyKey[]): number | undefined;
  /** 1-based line of the key `key` in the map at `mapPath` ([] = the top level). */
  lineOfKey(mapPath: readonly PropertyKey[], key: string): number | undefined;
  /** The whole document as plain data (also the keys the schema does not describe). */
  root: unknown;
}

/**
 * Parse YAML and validate it with a zod schema. Syntax errors and schema errors both name the
 * file, the line and the key, e.g. `.sdd/config.yaml:4: canary.steps[1]: expected number`.
 * `select` picks the part of the document the schema describes (other keys are not ours).
 */
export function parseYamlWithSchema<Schema extends z.ZodType>(
  file: string,
  text: string,
  schema: Schema,
  options: { select?: readonly PropertyKey[]; keyPrefix?: string } = {},
): ParsedYaml<z.output<Schema>> {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true, version: '1.2' });
  const firstError = document.errors[0];
  if (firstError) {
    const line = firstError.linePos?.[0]?.line;
    throw new MalformedFileError(file, `invalid YAML: ${firstError.message.split('\n')[0]}`, line);
  }
  const lineOf = (path: readonly PropertyKey[]): number | undefined => lineOfPath(document, lineCounter, path);

  let root: unknown;
  try {
    root = document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw new MalformedFileError(file, `invalid YAML: ${(error as Error).message}`);
  }
  const select = options.select ?? [];
  let selected: unknown = root;
  for (const key of select) {
    selected = selected && typeof selected === 'object' ? (selected as Record<PropertyKey, unknown>)[key] : undefined;
  }
  const result = schema.safeParse(selected);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const fullPath = [...select, ...issue.path];
    // Point at the deepest node that exists: an unknown key points at itself, a missing one at its parent.
    let line: number | undefined;
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    if (keys[0] !== undefined) line = lineOfKey(document, lineCounter, fullPath, keys[0]);
    for (let depth = fullPath.length; line === undefined && depth >= 0; depth--) line = lineOf(fullPath.slice(0, depth));
    const where = formatPath(keys[0] !== undefined ? [...fullPath, keys[0]] : fullPath);
    const message = issue.code === 'unrecognized_keys' ? `unknown key${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}` : issue.message;
    throw new MalformedFileError(file, where ? `${where}: ${message}` : message, line);
  }
  return { value: result.data, lineOf, lineOfKey: (mapPath, key) => lineOfKey(document, lineCounter, mapPath, key), root };
}

function lineOfPath(document: Document, lineCounter: LineCounter, path: readonly PropertyKey[]): number | undefined {
  const node = path.length === 0 ? document.contents : document.getIn(path as unknown[], true);
  if (!isNode(node) || !node.range) return undefined;
  return lineCounter.linePos(node.range[0]).line;
}

function lineOfKey(document: Document, lineCounter: LineCounter, mapPath: readonly PropertyKey[], key: string): number | undefined {
  const map = mapPath.length === 0 ? document.contents : document.getIn(mapPath as unknown[], true);
  if (!map || typeof map !== 'object' || !('items' in map)) return undefined;
  for (const pair of (map as { items: Array<{ key: unknown }> }).items) {
    const pairKey = pair.key;
    if (isNode(pairKey) && 'value' in pairKey && (pairKey as { value: unknown }).value === key && pairKey.range) {
      return lineCounter.linePos(pairKey.range[0]).line;
    }
  }
  return undefined;
}
