import { BernsteinError } from '@bernstein/store';
import { FileStore } from '@bernstein/store-file';
import type { RolloutStore } from '@bernstein/rollout';
import { isFileStore } from './store-url.js';

/**
 * The adapter picker: the one place the CLI chooses a store. Today every project is the `.sdd/`
 * files of its root; a shared database plugs in here (see `store.url` in the SPEC). `url` is
 * `--store` or BERNSTEIN_STORE_URL: empty or `file:` means the files; anything this build has no
 * adapter for is refused before the command does anything, never ignored (a command that wrote
 * to the files instead of the database the user named would split the state in two).
 */
export async function openProjectStore(root: string, options: { url?: string | undefined } = {}): Promise<RolloutStore> {
  const { url } = options;
  if (!isFileStore(url)) {
    // Never echo credentials (postgres://user:secret@host).
    const shown = url!.trim().replace(/\/\/[^@/]*@/, '//***@');
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(shown)?.[1];
    throw new BernsteinError(
      'INVALID_ARGUMENT',
      scheme
        ? `--store ${shown}: this build has no store for "${scheme}:" URLs; use an empty value or "file:" for the .sdd/ files`
        : `--store ${shown}: not a store URL (expected an empty value or "file:")`,
    );
  }
  return new FileStore(root);
}

/** Where a store keeps its routing state and registry, for messages about them. */
export function storeFiles(store: RolloutStore): { state: string; registry: string } {
  if (store instanceof FileStore) return { state: store.paths.canaryState, registry: store.paths.registry };
  return { state: `${store.name} (routing state)`, registry: `${store.name} (version registry)` };
}
