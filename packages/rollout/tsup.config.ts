import { defineConfig } from 'tsup';
import { libraryBuild } from '../../tsup.library';

// `contract`: the store-contract suite that every adapter's tests run.
export default defineConfig(libraryBuild(['src/index.ts', 'src/contract.ts']));
