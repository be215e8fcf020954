/**
 * The canary report: data collection from the ledger and audit log, and a self-contained HTML
 * renderer (inline SVG + CSS, no script, no network).
 */
import { writeFileAtomic } from '@bernstein/store';
import type { FileProject } from '@bernstein/canary-router';
import { collectReport, type CollectOptions, type ReportData } from './report/collect.js';
import { renderReport } from './report/render.js';

export {
  collectReport,
  readEvidence,
  MAX_SERIES_POINTS,
  REPORT_SCHEMA_VERSION,
  type CanaryReport,
  type CollectOptions,
  type ReportArmEvidence,
  type ReportCounts,
  type ReportData,
  type ReportEvidence,
  type ReportMarker,
  type ReportPoint,
  type ReportWindow,
  type RoleReport,
  type RoleVersionCounts,
} from './report/collect.js';
export { escapeHtml, renderReport } from './report/render.js';

/** Collect, render and write the report atomically to `file`. Returns the data it drew. */
export async function writeReport(project: FileProject, file: string, options: CollectOptions = {}): Promise<ReportData> {
  const data = await collectReport(project, options);
  await writeFileAtomic(file, renderReport(data));
  return data;
}
