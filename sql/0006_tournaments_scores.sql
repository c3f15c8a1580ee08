-- Tournaments: operator-run, single-elimination brackets between teams of
-- one or more companies. A tournament carries no company_id because teams
-- of several tenants meet in it; each team carries its own.

CREATE TABLE tournaments (
  id uuid PRIMARY KEY,
  slug text NOT NULL UNIQUE,
  title text NOT NULL,
  format text NOT NULL DEFAULT 'single_elimination' CHECK (format IN ('single_elimination')),
  status text NOT NULL CHECK (status IN ('registering', 'in_progress', 'completed')),
  winner_team_id uuid,
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  completed_at timestamptz(3)
);

-- Seeds are 1, 2, 3, ... in registration order; seed 1 is the strongest.
CREATE TABLE tournament_teams (
  id uuid PRIMARY KEY,
  tournament_id uuid NOT NULL REFERENCES tournaments (id),
  company_id uuid NOT NULL REFERENCES companies (id),
  name text NOT NULL,
  captain_user_id uuid NOT NULL REFERENCES users (id),
  is_eliminated boolean NOT NULL DEFAULT false,
  seed integer NOT NULL CHECK (seed >= 1),
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  UNIQUE (tournament_id, seed),
  UNIQUE (tournament_id, name)
);
CREATE INDEX tournament_teams_company_idx ON tournament_teams (company_id, tournament_id);

-- `position` is the slot of a match within its round: the winners of slots
-- 2k and 2k + 1 meet in slot k of the next round. The unique key makes
-- creating a round twice a no-op. A bye is a round-1 match with no team B,
-- completed at creation with team A as winner.
CREATE TABLE tournament_matches (
  id uuid PRIMARY KEY,
  tournament_id uuid NOT NULL REFERENCES tournaments (id),
  round integer NOT NULL CHECK (round >= 1),
  position integer NOT NULL CHECK (position >= 0),
  team_a_id uuid NOT NULL REFERENCES tournament_teams (id),
  team_b_id uuid REFERENCES tournament_teams (id),
  status text NOT NULL CHECK (status IN ('scheduled', 'completed')),
  team_a_score integer CHECK (team_a_score >= 0),
  team_b_score integer CHECK (team_b_score >= 0),
  winner_team_id uuid REFERENCES tournament_teams (id),
  reported_by_user_id uuid REFERENCES users (id),
  ended_at timestamptz(3),
  created_at timestamptz(3) NOT NULL DEFAULT now(),
  UNIQUE (tournament_id, round, position),
  CHECK (status = 'scheduled' OR winner_team_id IS NOT NULL)
);

-- Scores: each rep's Sales Lab Score as of the latest nightly recompute.
-- One computed_at is shared by every row a run writes.

CREATE TABLE user_scores (
  user_id uuid PRIMARY KEY REFERENCES users (id),
  company_id uuid NOT NULL REFERENCES companies (id),
  total_score integer NOT NULL CHECK (total_score BETWEEN 0 AND 1000),
  percentile integer NOT NULL CHECK (percentile BETWEEN 0 AND 100),
  tier text NOT NULL CHECK (tier IN ('bronze', 'silver', 'gold', 'platinum', 'diamond')),
  computed_at timestamptz(3) NOT NULL
);
CREATE INDEX user_scores_company_idx ON user_scores (company_id, total_score DESC);
-- The recompute reads the scorecards of the last 90 days.
CREATE INDEX IF NOT EXISTS scorecards_created_at_idx ON scorecards (created_at);
