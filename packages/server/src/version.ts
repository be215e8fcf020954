import packageJson from '../package.json' with { type: 'json' };

/** This package's version, for the start-up line and /openapi.json. */
export const SERVER_VERSION: string = packageJson.version;
