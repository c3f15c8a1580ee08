-- Tenancy: companies, their API tokens and their users.

CREATE TABLE companies (
  id uuid PRIMARY KEY,
  name text NOT NULL,
  time_zone text NOT NULL DEFAULT 'UTC',
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Only the SHA-256 of a token is stored; the token itself is shown once.
-- `created_at` of listed tables keeps milliseconds only, the precision of
-- list cursors, so that a cursor compares equal to the row it came from.
CREATE TABLE api_tokens (
  id uuid PRIMARY KEY,
  company_id uuid NOT NULL REFERENCES companies (id),
  name text NOT NULL,
  scopes text[] NOT NULL,
  token_hash text NOT NULL UNIQUE,
  token_prefix text NOT NULL,
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX api_tokens_company_idx ON api_tokens (company_id, created_at DESC, id DESC);

CREATE TABLE users (
  id uuid PRIMARY KEY,
  company_id uuid NOT NULL REFERENCES companies (id),
  email text NOT NULL,
  name text NOT NULL,
  role text NOT NULL CHECK (role IN ('rep', 'manager', 'admin')),
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  UNIQUE (company_id, email)
);
CREATE INDEX users_company_idx ON users (company_id, created_at DESC, id DESC);

-- Practice: scenarios, practice sessions and their scorecards.

CREATE TABLE scenarios (
  id uuid PRIMARY KEY,
  company_id uuid NOT NULL REFERENCES companies (id),
  title text NOT NULL,
  prompt text NOT NULL,
  pass_mark integer NOT NULL DEFAULT 70 CHECK (pass_mark BETWEEN 0 AND 100),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX scenarios_company_idx ON scenarios (company_id, created_at DESC);

CREATE TABLE practice_sessions (
  id uuid PRIMARY KEY,
  company_id uuid NOT NULL REFERENCES companies (id),
  user_id uuid NOT NULL REFERENCES users (id),
  scenario_id uuid NOT NULL REFERENCES scenarios (id),
  status text NOT NULL CHECK (status IN ('started', 'completed')),
  conversation_id text,
  started_at timestamptz NOT NULL DEFAULT now(),
  ended_at timestamptz
);
CREATE INDEX practice_sessions_company_idx ON practice_sessions (company_id, started_at DESC, id DESC);
CREATE INDEX practice_sessions_user_idx ON practice_sessions (company_id, user_id, started_at DESC);

-- One scorecard per session: the unique key makes a repeated post-call webhook a no-op.
CREATE TABLE scorecards (
  id uuid PRIMARY KEY,
  session_id uuid NOT NULL UNIQUE REFERENCES practice_sessions (id),
  company_id uuid NOT NULL REFERENCES companies (id),
  user_id uuid NOT NULL REFERENCES users (id),
  scenario_id uuid NOT NULL REFERENCES scenarios (id),
  overall_score integer NOT NULL CHECK (overall_score BETWEEN 0 AND 100),
  verdict text NOT NULL CHECK (verdict IN ('pass', 'fail')),
  headline text NOT NULL,
  category_scores jsonb NOT NULL,
  best_line text NOT NULL,
  worst_line text NOT NULL,
  next_drill text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Webhooks: subscriptions, published events and the delivery outbox.

-- The secret is kept in clear text because every delivery is signed with it.
CREATE TABLE webhook_subscriptions (
  id text PRIMARY KEY,
  company_id uuid NOT NULL REFERENCES companies (id),
  url text NOT NULL,
  event_kinds text[] NOT NULL DEFAULT '{}',
  description text,
  status text NOT NULL CHECK (status IN ('active', 'paused', 'disabled')),
  secret text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  deleted_at timestamptz
);
CREATE INDEX webhook_subscriptions_company_idx ON webhook_subscriptions (company_id, created_at DESC) WHERE deleted_at IS NULL;

CREATE TABLE events (
  id uuid PRIMARY KEY,
  company_id uuid NOT NULL REFERENCES companies (id),
  kind text NOT NULL,
  natural_key text NOT NULL,
  occurred_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- Publishing the same event twice (a retried incoming webhook, a re-run job) is a no-op.
  UNIQUE (company_id, kind, natural_key)
);

-- The durable delivery queue. `body` holds the exact bytes that are signed and
-- sent on every attempt; `next_attempt_at` is when the row is next due, and
-- `claimed_until` is the lease of the runner that is sending it.
CREATE TABLE webhook_deliveries (
  id bigserial PRIMARY KEY,
  delivery_id text NOT NULL,
  subscription_id text NOT NULL REFERENCES webhook_subscriptions (id),
  company_id uuid NOT NULL REFERENCES companies (id),
  event_id uuid REFERENCES events (id),
  event_kind text NOT NULL,
  body text NOT NULL,
  status text NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'cancelled')),
  attempts integer NOT NULL DEFAULT 0,
  last_status_code integer,
  last_error text,
  next_attempt_at timestamptz,
  claimed_until timestamptz,
  event_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz,
  UNIQUE (subscription_id, delivery_id)
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (subscription_id, next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_log_idx ON webhook_deliveries (subscription_id, created_at DESC, id DESC);

CREATE TABLE webhook_attempts (
  delivery_pk bigint NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  attempt integer NOT NULL,
  started_at timestamptz NOT NULL,
  duration_ms integer NOT NULL,
  status_code integer,
  response_body text,
  error text,
  outcome text NOT NULL CHECK (outcome IN ('succeeded', 'retry', 'failed')),
  PRIMARY KEY (delivery_pk, attempt)
);
