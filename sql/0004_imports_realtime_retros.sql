-- Imported real calls, realtime sessions with their CRM autopops, and churn retros.

-- A call recording imported from Gong or Chorus and the drill scenario made from it.
-- One import per (company, source URL): posting the same call again returns this row.
-- The scenario is inserted after this row in the same transaction, so its foreign
-- key is checked at commit.
CREATE TABLE call_imports (
  id uuid PRIMARY KEY,
  company_id uuid NOT NULL REFERENCES companies (id),
  source_url text NOT NULL,
  source_vendor text NOT NULL CHECK (source_vendor IN ('gong', 'chorus')),
  external_id text,
  user_id uuid REFERENCES users (id),
  transcript jsonb NOT NULL,
  scenario_id uuid NOT NULL REFERENCES scenarios (id) DEFERRABLE INITIALLY DEFERRED,
  failure_moment jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (company_id, source_url)
);

-- A live call a rep ran with the realtime assist. `ended_at` and
-- `duration_seconds` stay NULL while the call is live.
CREATE TABLE realtime_sessions (
  id uuid PRIMARY KEY,
  company_id uuid NOT NULL REFERENCES companies (id),
  user_id uuid NOT NULL REFERENCES users (id),
  started_at timestamptz NOT NULL,
  ended_at timestamptz,
  duration_seconds integer CHECK (duration_seconds >= 0),
  transcript jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (ended_at IS NULL OR ended_at > started_at),
  CHECK ((ended_at IS NULL) = (duration_seconds IS NULL))
);
CREATE INDEX realtime_sessions_company_idx ON realtime_sessions (company_id, started_at DESC);

-- The CRM autopop of a finished realtime session; `id` is the assist id of the
-- event. One per session, so a repeated request returns the stored row.
CREATE TABLE realtime_autopops (
  id uuid PRIMARY KEY,
  session_id uuid NOT NULL UNIQUE REFERENCES realtime_sessions (id),
  company_id uuid NOT NULL REFERENCES companies (id),
  user_id uuid NOT NULL REFERENCES users (id),
  summary text NOT NULL,
  next_step text NOT NULL,
  key_topics text[] NOT NULL,
  draft_followup_email text NOT NULL,
  duration_seconds integer NOT NULL CHECK (duration_seconds >= 0),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Public churn retros published by Sales Lab staff. They belong to no tenant:
-- publishing one notifies every tenant.
CREATE TABLE churn_retros (
  slug text PRIMARY KEY CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) <= 100),
  company_name text NOT NULL,
  reason_short text NOT NULL CHECK (length(reason_short) <= 280),
  what_we_changed text NOT NULL CHECK (length(what_we_changed) <= 2000),
  published_at timestamptz NOT NULL
);
