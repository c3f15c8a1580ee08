-- Skill Insurance coverage: the last known state of each Stripe subscription
-- that names one of our users, and the Stripe events already applied.

-- `last_event_created` is the `created` time of the newest Stripe event applied
-- to the row; an event created earlier arrives out of order and is skipped.
CREATE TABLE coverage_subscriptions (
  stripe_subscription_id text PRIMARY KEY,
  company_id uuid NOT NULL REFERENCES companies (id),
  user_id uuid NOT NULL REFERENCES users (id),
  plan text NOT NULL,
  status text NOT NULL,
  updated_at timestamptz NOT NULL,
  last_event_created timestamptz NOT NULL
);
CREATE INDEX coverage_subscriptions_user_idx ON coverage_subscriptions (company_id, user_id);

-- One row per Stripe event id, written in the transaction that applies the
-- event, so that a redelivered event changes nothing.
CREATE TABLE stripe_events (
  id text PRIMARY KEY,
  type text NOT NULL,
  stripe_subscription_id text NOT NULL,
  received_at timestamptz NOT NULL
);

-- Wage index: nightly snapshots of the score distribution across every
-- tenant, and the on-target earnings band of each tier. A snapshot is not
-- tenant data, so it carries no company_id. `published_at` is null until the
-- operator publishes the snapshot, and null again after it is unpublished.
CREATE TABLE wage_index_snapshots (
  id uuid PRIMARY KEY,
  label text NOT NULL,
  population_size integer NOT NULL CHECK (population_size >= 0),
  median_score integer NOT NULL CHECK (median_score BETWEEN 0 AND 1000),
  median_percentile integer NOT NULL CHECK (median_percentile BETWEEN 0 AND 100),
  per_tier_count jsonb NOT NULL,
  bands jsonb NOT NULL,
  generated_at timestamptz(3) NOT NULL,
  published_at timestamptz(3),
  public_url text NOT NULL
);
CREATE INDEX wage_index_snapshots_generated_idx ON wage_index_snapshots (generated_at DESC, id DESC);
