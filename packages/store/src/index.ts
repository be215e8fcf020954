export { BernsteinError, MalformedFileError, isBernsteinError, type ErrorCode } from './errors.js';
export { writeFileAtomic, writeJsonAtomic } from './atomic.js';
export { assertLocksHeld, withLock, type LockHandle, type LockOptions } from './lock.js';
export { defineJsonDocument, type DocumentSpec, type JsonDocument, type Migration } from './document.js';
export { appendRecords, FINGERPRINT_SPAN, logFingerprint, LogRecordReader, readRecordAt, readRecords, TORN_TAIL_KEY, type AppendResult, type LogSpec, type ReadLogOptions, type ReadLogResult } from './log.js';
export { defineLogCheckpoints, type Checkpoint, type CheckpointSpec, type LogCheckpoints, type LogCursor } from './checkpoints.js';
export { parseYamlWithSchema, type ParsedYaml } from './yaml.js';
export { projectPaths, withProjectLock, type ProjectPaths } from './project.js';
export { formatZodIssues, formatPath } from './zod-format.js';
