/**
 * The database schema, as versioned migrations. Each migration is static DDL (no user data, no
 * parameters), applied once, in order, in one transaction with the others that are missing (see
 * migrate.ts). Never edit a released migration: add the next one. Every table lives in the
 * `bernstein` schema, so the database can be shared with other applications.
 *
 * Records are kept as their JSON text (`json`, not `jsonb`): it round-trips exactly what was
 * written (key order, numbers, and strings with any character, `\u0000` included, which `jsonb`
 * and `text` refuse), while the columns beside it carry what queries and constraints need.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const V1 = `
CREATE SCHEMA IF NOT EXISTS bernstein;

-- The version registry: immutable, content-addressed role bundles with their full content.
-- A role's history is its versions in registration order (seq).
CREATE TABLE bernstein.versions (
  id         text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{12}$'),
  hash       text NOT NULL UNIQUE CHECK (hash ~ '^[0-9a-f]{64}$' AND left(hash, 12) = id),
  seq        bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  role       text NOT NULL,
  summary    json NOT NULL,
  files      json NOT NULL
);
CREATE INDEX versions_role ON bernstein.versions (role, seq);

-- The routing state, one row per role: its RoleState document, the bundle routing last acted on
-- (CanaryState.disk), and the revision of the last transition applied to it.
CREATE TABLE bernstein.roles (
  role       text PRIMARY KEY,
  -- null while routing has only recorded the bundle it saw (disk), before any transition
  state      json,
  disk       text,
  revision   bigint NOT NULL DEFAULT 0
);

-- Store-wide transition revisions: increasing, gaps allowed. Per role they follow commit order
-- because a role's transitions hold that role's lock until commit.
CREATE SEQUENCE bernstein.revision AS bigint START 1;

-- The ledger: every assignment and outcome, in append order. txid is the writing transaction,
-- used to hand out positions that never skip a record committed late (see positions.ts).
CREATE TABLE bernstein.ledger (
  seq            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  txid           xid8 NOT NULL DEFAULT pg_current_xact_id(),
  kind           text NOT NULL CHECK (kind IN ('assign', 'outcome')),
  task_id        text NOT NULL,
  role           text NOT NULL,
  canary_id      text,
  -- outcome rows: the ledger seq of the assignment they answer
  assignment_seq bigint REFERENCES bernstein.ledger (seq),
  record         json NOT NULL,
  CHECK ((kind = 'outcome') = (assignment_seq IS NOT NULL))
);
CREATE INDEX ledger_txid ON bernstein.ledger (txid);
-- One outcome per assignment, enforced by the database and not only by the code.
-- Refolding one aggregate key (after a fold version change) reads only that key's records.
CREATE INDEX ledger_canary_key ON bernstein.ledger (canary_id, seq) WHERE canary_id IS NOT NULL;
CREATE INDEX ledger_role_key ON bernstein.ledger (role, seq) WHERE canary_id IS NULL;
CREATE UNIQUE INDEX ledger_one_outcome ON bernstein.ledger (task_id, assignment_seq) WHERE kind = 'outcome';

-- Each task's latest assignment and that assignment's outcome: what getTasks answers from.
CREATE TABLE bernstein.tasks (
  task_id        text PRIMARY KEY,
  role           text NOT NULL,
  routed_at      text NOT NULL,
  assignment_seq bigint NOT NULL REFERENCES bernstein.ledger (seq),
  assignment     json NOT NULL,
  outcome_seq    bigint REFERENCES bernstein.ledger (seq),
  outcome        json,
  CHECK ((outcome_seq IS NULL) = (outcome IS NULL))
);
CREATE INDEX tasks_awaiting ON bernstein.tasks (routed_at) WHERE outcome_seq IS NULL;

-- The aggregates: per key (canary:<id> or role:<role>), the fold of that key's ledger records,
-- maintained in the same transaction as every append, so status and decisions never read the ledger.
CREATE TABLE bernstein.aggregates (
  key          text PRIMARY KEY,
  role         text NOT NULL,
  fold_version integer NOT NULL,
  state        json NOT NULL
);

-- The audit log: transitions (one revision each) and notes (alert-delivered / alert-failed,
-- which carry the revision of their transition).
CREATE TABLE bernstein.audit (
  seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  txid       xid8 NOT NULL DEFAULT pg_current_xact_id(),
  revision   bigint NOT NULL,
  role       text NOT NULL,
  action     text NOT NULL,
  canary_id  text,
  is_note    boolean NOT NULL,
  event      json NOT NULL
);
CREATE INDEX audit_order ON bernstein.audit (revision, seq);
CREATE INDEX audit_txid ON bernstein.audit (txid);
CREATE UNIQUE INDEX audit_one_revision ON bernstein.audit (revision) WHERE NOT is_note;
-- At most one decision per canary: a second promote or rollback of the same canary cannot commit.
CREATE UNIQUE INDEX audit_one_decision ON bernstein.audit (canary_id) WHERE NOT is_note AND action IN ('promote', 'rollback');

-- The alert outbox: written with its transition, delivered after commit.
CREATE TABLE bernstein.outbox (
  id           text PRIMARY KEY,
  revision     bigint NOT NULL,
  role         text NOT NULL,
  created_at   text NOT NULL,
  payload      json NOT NULL,
  status       text NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts     json NOT NULL,
  claim_holder text,
  claim_until  timestamptz,
  CHECK ((claim_holder IS NULL) = (claim_until IS NULL))
);
CREATE INDEX outbox_pending ON bernstein.outbox (revision) WHERE status = 'pending';

-- What \`bernstein store import\` copied, so that a second import of the same project changes nothing.
CREATE TABLE bernstein.imports (
  fingerprint text PRIMARY KEY,
  roles       json NOT NULL,
  counts      json NOT NULL,
  source      text NOT NULL,
  at          timestamptz NOT NULL DEFAULT now()
);
`;

/**
 * Outcome timeouts (issue 15): a timeout is an outcome row (its record says `timedOut`), and a
 * real outcome that arrives after it is a `late` row answering the same assignment, at most one.
 * Tasks carry their late outcome beside their outcome. The timeout sweep's questions (a canary's
 * tasks still awaiting an outcome, oldest first) have an index.
 */
const V2 = `
ALTER TABLE bernstein.ledger DROP CONSTRAINT ledger_kind_check;
ALTER TABLE bernstein.ledger ADD CONSTRAINT ledger_kind_check CHECK (kind IN ('assign', 'outcome', 'late'));
ALTER TABLE bernstein.ledger DROP CONSTRAINT ledger_check;
-- Outcome and late rows answer an assignment; assignment rows answer none.
ALTER TABLE bernstein.ledger ADD CONSTRAINT ledger_answers_assignment CHECK ((kind <> 'assign') = (assignment_seq IS NOT NULL));
-- One late outcome per assignment, enforced by the database as the one outcome is.
CREATE UNIQUE INDEX ledger_one_late ON bernstein.ledger (task_id, assignment_seq) WHERE kind = 'late';

ALTER TABLE bernstein.tasks ADD COLUMN late_seq bigint REFERENCES bernstein.ledger (seq);
ALTER TABLE bernstein.tasks ADD COLUMN late json;
ALTER TABLE bernstein.tasks ADD CONSTRAINT tasks_late_check CHECK ((late_seq IS NULL) = (late IS NULL) AND (late_seq IS NULL OR outcome_seq IS NOT NULL));
CREATE INDEX tasks_awaiting_canary ON bernstein.tasks ((assignment->>'canaryId'), routed_at) WHERE outcome_seq IS NULL;
`;

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial schema: registry, state, ledger, tasks, aggregates, audit, outbox, imports', sql: V1 },
  { version: 2, name: 'outcome timeouts: late outcomes in the ledger and on tasks, awaiting tasks per canary', sql: V2 },
];

/** The schema version this package reads and writes. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
