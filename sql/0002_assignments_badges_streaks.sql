-- Assignments: drills a manager gives a rep, closed by the rep's next scored
-- session on the same scenario.

-- `seq` breaks ties between assignments created in the same millisecond, so
-- the oldest open one is always well defined. A session closes at most one
-- assignment.
CREATE TABLE assignments (
  id uuid PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  company_id uuid NOT NULL REFERENCES companies (id),
  user_id uuid NOT NULL REFERENCES users (id),
  scenario_id uuid NOT NULL REFERENCES scenarios (id),
  status text NOT NULL CHECK (status IN ('open', 'completed')),
  due_at timestamptz(3),
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  completed_at timestamptz(3),
  session_id uuid UNIQUE REFERENCES practice_sessions (id),
  scorecard_id uuid REFERENCES scorecards (id),
  CHECK ((status = 'open') = (completed_at IS NULL))
);
CREATE INDEX assignments_company_idx ON assignments (company_id, created_at DESC, id DESC);
CREATE INDEX assignments_open_idx ON assignments (company_id, user_id, scenario_id, created_at, seq)
  WHERE status = 'open';

-- Gamification: badges earned by reps. The primary key makes each badge
-- awardable once per user.
CREATE TABLE user_badges (
  company_id uuid NOT NULL REFERENCES companies (id),
  user_id uuid NOT NULL REFERENCES users (id),
  badge_slug text NOT NULL,
  awarded_at timestamptz(3) NOT NULL,
  session_id uuid REFERENCES practice_sessions (id),
  PRIMARY KEY (user_id, badge_slug)
);
CREATE INDEX user_badges_company_idx ON user_badges (company_id, user_id, awarded_at DESC, badge_slug DESC);

-- Coaching: daily practice streaks as of each rep's last check-in. Days are
-- calendar days in the company's time zone. `last_reported_break_day` is the
-- last day of the most recent streak whose break fired coaching.streak_broken,
-- so a break is reported once.
CREATE TABLE user_streaks (
  user_id uuid PRIMARY KEY REFERENCES users (id),
  company_id uuid NOT NULL REFERENCES companies (id),
  current_streak integer NOT NULL DEFAULT 0 CHECK (current_streak >= 0),
  longest_streak integer NOT NULL DEFAULT 0 CHECK (longest_streak >= 0),
  last_practice_day date,
  last_reported_break_day date,
  last_check_in_at timestamptz(3),
  updated_at timestamptz(3) NOT NULL DEFAULT now()
);
