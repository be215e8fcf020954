export { openFileRollout } from '../src/index.js';
