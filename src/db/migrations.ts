export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Forward-only. Never edit a released migration: add a new one. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'identity, projects, instances, snapshots, backups, audit',
    sql: `
CREATE TABLE users (
  id uuid PRIMARY KEY,
  email text NOT NULL UNIQUE,
  name text NOT NULL,
  password_hash text NOT NULL,
  is_admin boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
  id text PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  last_seen_at timestamptz NOT NULL DEFAULT now(),
  user_agent text
);
CREATE INDEX sessions_user_idx ON sessions(user_id);

CREATE TABLE api_tokens (
  id uuid PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name text NOT NULL,
  token_hash text NOT NULL UNIQUE,
  prefix text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz
);
CREATE INDEX api_tokens_user_idx ON api_tokens(user_id);

CREATE TABLE projects (
  id uuid PRIMARY KEY,
  name text NOT NULL,
  personal_of uuid REFERENCES users(id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE project_members (
  project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role text NOT NULL CHECK (role IN ('owner', 'member')),
  added_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_user_idx ON project_members(user_id);

CREATE TABLE templates (
  id text PRIMARY KEY,
  name text NOT NULL,
  description text NOT NULL DEFAULT '',
  flows jsonb NOT NULL DEFAULT '[]',
  settings jsonb NOT NULL DEFAULT '{}',
  env jsonb NOT NULL DEFAULT '{}',
  memory_min_mb integer NOT NULL,
  memory_max_mb integer NOT NULL,
  memory_default_mb integer NOT NULL,
  cpu_min double precision NOT NULL,
  cpu_max double precision NOT NULL,
  cpu_default double precision NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE instances (
  id uuid PRIMARY KEY,
  project_id uuid NOT NULL REFERENCES projects(id) ON DELETE RESTRICT,
  subdomain text NOT NULL UNIQUE,
  template_id text NOT NULL,
  memory_mb integer NOT NULL,
  cpu double precision NOT NULL,
  env jsonb NOT NULL DEFAULT '{}',
  settings jsonb NOT NULL DEFAULT '{}',
  desired_state text NOT NULL DEFAULT 'stopped' CHECK (desired_state IN ('running', 'stopped')),
  state text NOT NULL DEFAULT 'stopped' CHECK (state IN ('stopped', 'starting', 'running', 'stopping', 'error')),
  error_message text,
  secrets_enc text NOT NULL,
  mqtt_username text NOT NULL UNIQUE,
  runtime_host text,
  runtime_port integer,
  started_at timestamptz,
  restart_count integer NOT NULL DEFAULT 0,
  backup_schedule text,
  backup_retention integer NOT NULL DEFAULT 7,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX instances_project_idx ON instances(project_id);

CREATE TABLE instance_aliases (
  label text PRIMARY KEY,
  instance_id uuid NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX instance_aliases_instance_idx ON instance_aliases(instance_id);

CREATE TABLE access_tokens (
  token_hash text PRIMARY KEY,
  instance_id uuid NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
  user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  expires_at timestamptz NOT NULL,
  used_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX access_tokens_expiry_idx ON access_tokens(expires_at);

CREATE TABLE mqtt_clients (
  id uuid PRIMARY KEY,
  project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  instance_id uuid REFERENCES instances(id) ON DELETE CASCADE,
  username text NOT NULL UNIQUE,
  password_hash text NOT NULL,
  description text NOT NULL DEFAULT '',
  created_by uuid REFERENCES users(id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
CREATE INDEX mqtt_clients_project_idx ON mqtt_clients(project_id);

CREATE TABLE snapshots (
  id uuid PRIMARY KEY,
  project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  source_instance_id uuid REFERENCES instances(id) ON DELETE SET NULL,
  name text NOT NULL,
  description text NOT NULL DEFAULT '',
  author_id uuid REFERENCES users(id) ON DELETE SET NULL,
  flows jsonb NOT NULL,
  credentials_enc text,
  env jsonb NOT NULL DEFAULT '{}',
  settings jsonb NOT NULL DEFAULT '{}',
  modules jsonb NOT NULL DEFAULT '{}',
  node_count integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX snapshots_source_idx ON snapshots(source_instance_id, created_at DESC);

CREATE TABLE backups (
  id uuid PRIMARY KEY,
  instance_id uuid NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
  project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
  kind text NOT NULL CHECK (kind IN ('manual', 'scheduled')),
  status text NOT NULL CHECK (status IN ('running', 'complete', 'failed')),
  file_name text NOT NULL,
  size_bytes bigint,
  sha256 text,
  error_message text,
  created_by uuid REFERENCES users(id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz
);
CREATE INDEX backups_instance_idx ON backups(instance_id, created_at DESC);

CREATE TABLE audit_log (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT now(),
  actor_id uuid,
  actor_label text,
  action text NOT NULL,
  target_type text,
  target_id text,
  target_label text,
  project_id uuid,
  outcome text NOT NULL CHECK (outcome IN ('success', 'failure')),
  error_code text,
  details jsonb NOT NULL DEFAULT '{}',
  ip text,
  prose text,
  prose_model text,
  prose_at timestamptz
);
CREATE INDEX audit_project_idx ON audit_log(project_id, id DESC);
CREATE INDEX audit_actor_idx ON audit_log(actor_id, id DESC);
CREATE INDEX audit_action_idx ON audit_log(action, id DESC);
CREATE INDEX audit_created_idx ON audit_log(created_at);

CREATE TABLE platform_settings (
  key text PRIMARY KEY,
  value jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
`,
  },
  {
    version: 2,
    name: 'snapshot authors, backup progress and restores, backup schedule state',
    sql: `
ALTER TABLE snapshots ADD COLUMN author_label text;

ALTER TABLE backups ADD COLUMN progress_bytes bigint NOT NULL DEFAULT 0;
ALTER TABLE backups ADD COLUMN total_bytes bigint;
ALTER TABLE backups ADD COLUMN restore_status text CHECK (restore_status IN ('running', 'complete', 'failed'));
ALTER TABLE backups ADD COLUMN restore_progress_bytes bigint NOT NULL DEFAULT 0;
ALTER TABLE backups ADD COLUMN restore_error text;
ALTER TABLE backups ADD COLUMN restored_at timestamptz;

ALTER TABLE instances ADD COLUMN backup_enabled boolean NOT NULL DEFAULT true;
ALTER TABLE instances ADD COLUMN backup_last_slot timestamptz;
`,
  },
  {
    version: 3,
    name: 'LLM usage per day for audit prose; index of rows awaiting prose',
    sql: `
CREATE TABLE llm_usage (
  day date PRIMARY KEY,
  input_tokens bigint NOT NULL DEFAULT 0,
  output_tokens bigint NOT NULL DEFAULT 0,
  reserved_tokens bigint NOT NULL DEFAULT 0,
  requests integer NOT NULL DEFAULT 0
);

CREATE INDEX audit_unsummarized_idx ON audit_log(id) WHERE prose IS NULL;
`,
  },
];
