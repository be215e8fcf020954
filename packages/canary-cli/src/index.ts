export { buildProgram, run } from './program.js';
export { EXIT, processIo, reportError, type GlobalOptions, type Io } from './output.js';
export { parsePercentage, parseSteps, parsePolicy } from './parse.js';
export { openProjectStore, type StoreChoice } from './store.js';
