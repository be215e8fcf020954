/**
 * True for the `--store` values that mean the project's .sdd/ files (absent, empty or `file:`).
 * Dependency-free on purpose: the `canary status` fast path uses it.
 */
export function isFileStore(store: string | undefined): boolean {
  return store === undefined || store.trim() === '' || store.trim() === 'file:';
}
