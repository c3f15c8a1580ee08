-- Coaching: the weekly brief mailed to each rep who practised that week.

-- One brief per user and week: a re-run of the weekly job finds the row and
-- sends nothing. A row exists only for a brief whose mail was accepted.
CREATE TABLE coaching_briefs (
  id uuid PRIMARY KEY,
  company_id uuid NOT NULL REFERENCES companies (id),
  user_id uuid NOT NULL REFERENCES users (id),
  week_start date NOT NULL,
  week_end date NOT NULL,
  summary text NOT NULL,
  celebrate text[] NOT NULL,
  coach text[] NOT NULL,
  sent_at timestamptz NOT NULL,
  message_id text NOT NULL,
  UNIQUE (user_id, week_start),
  CHECK (week_end = week_start + 6)
);

-- The weekly job reads scorecards by creation time: all users of a week, then one user's.
CREATE INDEX IF NOT EXISTS scorecards_created_at_idx ON scorecards (created_at);
CREATE INDEX IF NOT EXISTS scorecards_user_created_idx ON scorecards (user_id, created_at);
