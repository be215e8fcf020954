/**
 * The canary report: data collection from the ledger and audit log, and a self-contained HTML
 * renderer (inline SVG + CSS, no script, no network).
 */
import { writeFileAtomic } from '@bernstein/store';
import type { Rollout } from '../rollout.js';
import { collectReport, type CollectOptions, type ReportData } from './collect.js';
import { renderReport } from './render.js';

export {
  collectReport,
  readEvidence,
  MAX_SERIES_POINTS,
  REPORT_SCHEMA_VERSION,
  type CanaryReport,
  type CollectOptions,
  type ReportArmEvidence,
  type ReportEpochArm,
  type ReportEpochRow,
  type ReportCounts,
  type ReportData,
  type ReportEvidence,
  type ReportMarker,
  type ReportPoint,
  type ReportWindow,
  type RoleReport,
  type RoleVersionCounts,
} from './collect.js';
export { escapeHtml, renderReport } from './render.js';

/** Collect, render and write the report atomically to `file`. Returns the data it drew. */
export async function writeReport(rollout: Rollout, file: string, options: CollectOptions = {}): Promise<ReportData> {
  const data = await collectReport(rollout, options);
  await writeFileAtomic(file, renderReport(data));
  return data;
}
