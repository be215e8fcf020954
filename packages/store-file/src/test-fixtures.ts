import type { AssignmentRecord } from '@bernstein/prompt-versions';

/** An assignment record of role "backend" for ledger and index tests. */
export const assign = (taskId: string, arm: 'stable' | 'canary' = 'stable', canaryId: string | null = null): AssignmentRecord => ({
  v: 1,
  type: 'assign',
  taskId,
  role: 'backend',
  arm,
  versionId: 'aaaaaaaaaaaa',
  canaryId,
  epoch: null,
  at: '2026-01-01T00:00:00.000Z',
});
