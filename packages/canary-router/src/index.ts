export * from './core.js';
export { FileProject, openProject, readHistory, type AppliedTransitions, type ApplyOptions, type CanaryStateStore, type ProjectOptions, type TransitionRequest } from './project.js';
export { FileAuditLog, type AuditLogStore } from './audit.js';
export { routeTasks, syncRoleWithDisk, type RouteOptions, type RouteResult } from './router.js';
export { scanVersions, type InvalidRole, type ScanResult, type ScannedVersion } from './scan.js';
export { diskProblemWarning, inspectDisk, promotedModelOf, readDisk, registerDisk, type DiskRead, type DiskView } from './disk.js';
export {
  applyAutomaticDecision,
  canaryRole,
  pickCanaryRole,
  promoteCanary,
  rollbackCanary,
  startCanaryOfVersion,
  type AutomaticDecision,
  type LifecycleResult,
  type ManualOptions,
  type StartOptions,
} from './lifecycle.js';
export { syncModelToDisk, type ModelSync } from './sync-model.js';
