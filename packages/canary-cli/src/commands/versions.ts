import { diffVersions, renderModelConfig, type VersionSummary } from '@bernstein/prompt-versions';
import { scanVersions } from '@bernstein/rollout';
import { printJson, table, type GlobalOptions, type Io } from '../output.js';
import { openCheckedProject } from '../project.js';

/**
 * `versions scan`: every valid role is registered; each invalid one is reported on its own line
 * (and is the only reason to exit non-zero); what is not a role is noted, never skipped in silence.
 */
export async function scan(global: GlobalOptions, _options: object, io: Io): Promise<number> {
  const project = await openCheckedProject(global.dir, global);
  const { versions, invalid, skipped, warnings } = await scanVersions(project);
  for (const warning of warnings) io.stderr(`warning: ${warning}\n`);
  for (const entry of skipped) io.stderr(`note: ${entry.path}: ${entry.reason}\n`);
  for (const role of invalid) io.stderr(`error: role "${role.role}" not registered: ${role.message} [${role.code}]\n`);
  const code = invalid.length > 0 ? 1 : 0;
  if (global.json) {
    printJson(io, {
      versions: versions.map(({ role, id, new: isNew, stable }) => ({ role, id, new: isNew, stable })),
      ...(invalid.length > 0 ? { invalid: invalid.map(({ role, code: errorCode, message }) => ({ role, code: errorCode, message })) } : {}),
    });
    return code;
  }
  if (versions.length === 0) {
    if (invalid.length === 0) io.stdout(`no role bundles found under ${(await project.config()).templates}\n`);
    return code;
  }
  io.stdout(table(versions.map((v) => [v.role, v.id, v.new ? 'new' : 'known', v.stable ? 'stable' : '']), ['ROLE', 'VERSION', 'REGISTRY', 'ROUTING']));
  return code;
}

export async function list(global: GlobalOptions, options: { role?: string }, io: Io): Promise<number> {
  const project = await openCheckedProject(global.dir, global);
  const versions = await project.store.listVersions(options.role === undefined ? {} : { role: options.role });
  const state = await project.store.loadState();
  const status = (v: VersionSummary) => {
    const role = state.roles[v.role];
    if (!role) return '';
    if (role.stable === v.id) return 'stable';
    if (role.canary?.versionId === v.id) return `canary ${role.canary.percentage} %`;
    if (role.rejected.includes(v.id)) return 'rejected';
    return '';
  };
  if (global.json) {
    printJson(io, { versions: versions.map((v) => ({ id: v.id, hash: v.hash, role: v.role, createdAt: v.createdAt, origin: v.origin, files: v.fileNames, model: v.model, status: status(v) || null })) });
    return 0;
  }
  if (versions.length === 0) {
    io.stdout(options.role ? `no versions of role "${options.role}"\n` : 'no versions registered yet (run `bernstein versions scan`)\n');
    return 0;
  }
  io.stdout(
    table(
      versions.map((v) => [v.role, v.id, v.createdAt.replace(/\.\d+Z$/, 'Z'), modelName(v), originText(v), status(v)]),
      ['ROLE', 'VERSION', 'CREATED', 'MODEL', 'ORIGIN', 'STATUS'],
    ),
  );
  return 0;
}

export async function show(global: GlobalOptions, options: { args: string[] }, io: Io): Promise<number> {
  const project = await openCheckedProject(global.dir, global);
  const summary = await project.store.resolveVersion(options.args[0]!);
  const version = await project.store.getVersion(summary.id);
  if (global.json) {
    printJson(io, { id: version.id, hash: version.hash, role: version.role, createdAt: version.createdAt, origin: version.origin, model: version.model, files: version.files });
    return 0;
  }
  io.stdout(`version ${version.id}  role ${version.role}  created ${version.createdAt}  (${originText(version)})\nhash    ${version.hash}\n`);
  io.stdout(`\n--- config.yaml (model) ---\n${renderModelConfig(version.model) || '(empty)\n'}`);
  for (const [name, text] of Object.entries(version.files)) io.stdout(`\n--- ${name} ---\n${text}${text.endsWith('\n') ? '' : '\n'}`);
  return 0;
}

export async function diff(global: GlobalOptions, options: { args: string[] }, io: Io): Promise<number> {
  const project = await openCheckedProject(global.dir, global);
  const [a, b] = await Promise.all(options.args.slice(0, 2).map((id) => project.store.resolveVersion(id)));
  const [left, right] = await Promise.all([project.store.getVersion(a!.id), project.store.getVersion(b!.id)]);
  const result = diffVersions(left, right);
  if (global.json) {
    printJson(io, { a: left.id, b: right.id, changedFiles: result.changedFiles, modelChanged: result.modelChanged, patch: result.patch });
    return 0;
  }
  io.stdout(result.patch || `versions ${left.id} and ${right.id} are identical\n`);
  return 0;
}

function modelName(v: VersionSummary): string {
  const model = v.model.default_model;
  return typeof model === 'string' ? model : '-';
}

function originText(v: VersionSummary): string {
  return v.origin.kind === 'disk' ? 'from disk' : `model ${v.origin.model} on ${v.origin.baseVersionId}`;
}
