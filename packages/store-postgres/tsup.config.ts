import { defineConfig } from 'tsup';
import { libraryBuild } from '../../tsup.library';

// `testing`: the throw-away PostgreSQL server used by this package's tests, the repository's
// end-to-end tests and `pnpm bench`.
export default defineConfig(libraryBuild({ index: 'src/index.ts', 'testing/pg-server': 'src/testing/pg-server.ts' }));
