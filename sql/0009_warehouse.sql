-- Warehouse views for BI tools, read through per-company PostgreSQL logins.
--
-- Two group roles:
--   saleslab_warehouse         owns the views and reads the tables behind
--                              them, under row-level security. No login
--                              is ever a member of it.
--   saleslab_warehouse_reader  may read the two views. Every warehouse
--                              login is a member of it.
-- Roles belong to the whole PostgreSQL server, not to one database. So a
-- migration in another database, even one running at the same moment, may
-- have created them already.
DO $$
BEGIN
  CREATE ROLE saleslab_warehouse NOLOGIN NOINHERIT;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL;
END
$$;

DO $$
BEGIN
  CREATE ROLE saleslab_warehouse_reader NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL;
END
$$;

-- A role that is not a superuser may only give a view to a role it can act as.
DO $$
BEGIN
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    EXECUTE format('GRANT saleslab_warehouse TO %I', current_user);
  END IF;
END
$$;

-- PostgreSQL lets every role create temporary tables by default. Warehouse
-- logins must create nothing, so that right goes to the service's role
-- only, where this role may change it: as a superuser or the database's owner.
DO $$
BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
    OR (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()) = current_user THEN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO %I', current_database(), current_user);
  ELSE
    RAISE WARNING 'Every role may still create temporary tables in database %: only a superuser or its owner can revoke that', current_database();
  END IF;
END
$$;

-- Every role may also call the large-object, advisory-lock and WAL message
-- functions by default. With them a login could store data, hold the locks
-- that the service's jobs wait for, or write to the WAL. Only a superuser
-- may change the rights on these built-in functions; the service's role,
-- as a superuser, keeps them regardless. A superuser also closes template1
-- to new connections of ordinary roles, so that no login can leave objects
-- there for every database created later.
DO $$
DECLARE
  function_name regprocedure;
BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    FOR function_name IN
      SELECT p.oid::regprocedure FROM pg_proc p
      WHERE p.pronamespace = 'pg_catalog'::regnamespace
        AND (p.proname LIKE 'pg\_%advisory\_%' OR p.proname LIKE 'lo\_%'
          OR p.proname IN ('loread', 'lowrite', 'pg_logical_emit_message'))
    LOOP
      EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', function_name);
    END LOOP;
    -- Migrations of several databases may get here at once, and the second
    -- change to one database's rights can then fail; the first one suffices.
    IF current_database() <> 'template1' AND has_database_privilege('public', 'template1', 'CONNECT') THEN
      BEGIN
        REVOKE CONNECT ON DATABASE template1 FROM PUBLIC;
      EXCEPTION WHEN OTHERS THEN
        RAISE WARNING 'Closing template1 to ordinary roles failed: %', SQLERRM;
      END;
    END IF;
  ELSE
    RAISE WARNING 'Every role may still create large objects and take advisory locks in database %: only a superuser can revoke that', current_database();
  END IF;
END
$$;

-- A rep's skill levels after a scorecard: each skill is the mean of that
-- skill's category score, 0 to 10, over the rep's last five scorecards that
-- scored it, and null until one did.
CREATE TABLE skill_snapshots (
  id uuid PRIMARY KEY,
  company_id uuid NOT NULL REFERENCES companies (id),
  user_id uuid NOT NULL REFERENCES users (id),
  scorecard_id uuid NOT NULL UNIQUE REFERENCES scorecards (id),
  discovery double precision,
  objection_handling double precision,
  control double precision,
  rapport double precision,
  closing double precision,
  value_proposition double precision,
  qualification double precision,
  negotiation double precision,
  active_listening double precision,
  next_steps double precision,
  taken_at timestamptz NOT NULL
);
CREATE INDEX skill_snapshots_company_idx ON skill_snapshots (company_id, taken_at);
CREATE INDEX scorecards_company_idx ON scorecards (company_id, created_at);
-- The snapshot of a scorecard reads the rep's latest scorecards.
CREATE INDEX scorecards_user_idx ON scorecards (user_id, created_at DESC);

-- The mean score of one skill over a rep's last five scorecards up to and
-- including the given one that scored it, or null when none did.
CREATE FUNCTION skill_mean(rep uuid, until timestamptz, last_scorecard uuid, skill text) RETURNS double precision
LANGUAGE sql STABLE
AS $$
  SELECT avg((recent.score #>> '{}')::double precision)
  FROM (
    SELECT s.category_scores -> skill AS score
    FROM scorecards s
    WHERE s.user_id = rep
      AND (s.created_at, s.id) <= (until, last_scorecard)
      AND jsonb_typeof(s.category_scores -> skill) = 'number'
    ORDER BY s.created_at DESC, s.id DESC
    LIMIT 5
  ) recent
$$;
REVOKE ALL ON FUNCTION skill_mean(uuid, timestamptz, uuid, text) FROM PUBLIC;

-- Snapshots of the scorecards written before this migration.
INSERT INTO skill_snapshots (id, company_id, user_id, scorecard_id, taken_at,
  discovery, objection_handling, control, rapport, closing,
  value_proposition, qualification, negotiation, active_listening, next_steps)
SELECT gen_random_uuid(), s.company_id, s.user_id, s.id, s.created_at,
  skill_mean(s.user_id, s.created_at, s.id, 'discovery'),
  skill_mean(s.user_id, s.created_at, s.id, 'objection_handling'),
  skill_mean(s.user_id, s.created_at, s.id, 'control'),
  skill_mean(s.user_id, s.created_at, s.id, 'rapport'),
  skill_mean(s.user_id, s.created_at, s.id, 'closing'),
  skill_mean(s.user_id, s.created_at, s.id, 'value_proposition'),
  skill_mean(s.user_id, s.created_at, s.id, 'qualification'),
  skill_mean(s.user_id, s.created_at, s.id, 'negotiation'),
  skill_mean(s.user_id, s.created_at, s.id, 'active_listening'),
  skill_mean(s.user_id, s.created_at, s.id, 'next_steps')
FROM scorecards s;

-- One row per warehouse login. The role is dropped on revocation, and the
-- row stays as the record that it existed.
CREATE TABLE warehouse_credentials (
  id uuid PRIMARY KEY,
  company_id uuid NOT NULL REFERENCES companies (id),
  name text NOT NULL,
  role_name text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
CREATE INDEX warehouse_credentials_company_idx ON warehouse_credentials (company_id, created_at DESC, id DESC);

-- The company of the login that opened the session, or null for any other
-- role. It reads session_user, which a session cannot change without being
-- a superuser, rather than a setting the session could change.
CREATE FUNCTION warehouse_company_id() RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public
AS $$
  SELECT company_id FROM warehouse_credentials WHERE role_name = session_user AND revoked_at IS NULL
$$;
REVOKE ALL ON FUNCTION warehouse_company_id() FROM PUBLIC;
-- PostgreSQL checks the right to call a function of a policy as the user
-- who runs the query, so the logins need it too. It returns a login only its
-- own company's id.
GRANT EXECUTE ON FUNCTION warehouse_company_id() TO saleslab_warehouse, saleslab_warehouse_reader;

-- Row-level security on the tables behind the views. The service owns the
-- tables, and PostgreSQL exempts a table's owner, so the service still
-- reads every row. The views' owner gets only its login's company.
ALTER TABLE scorecards ENABLE ROW LEVEL SECURITY;
ALTER TABLE skill_snapshots ENABLE ROW LEVEL SECURITY;
CREATE POLICY warehouse_company_rows ON scorecards FOR SELECT TO saleslab_warehouse
  USING (company_id = (SELECT warehouse_company_id()));
CREATE POLICY warehouse_company_rows ON skill_snapshots FOR SELECT TO saleslab_warehouse
  USING (company_id = (SELECT warehouse_company_id()));
GRANT SELECT ON scorecards, skill_snapshots TO saleslab_warehouse;

CREATE VIEW warehouse_skill_progress AS
SELECT user_id, company_id,
  discovery AS discovery_score,
  objection_handling AS objection_handling_score,
  control AS control_score,
  rapport AS rapport_score,
  closing AS closing_score,
  value_proposition AS value_proposition_score,
  qualification AS qualification_score,
  negotiation AS negotiation_score,
  active_listening AS active_listening_score,
  next_steps AS next_steps_score,
  taken_at
FROM skill_snapshots;

CREATE VIEW warehouse_session_scores AS
SELECT session_id, user_id, company_id, overall_score, verdict,
  round((category_scores ->> 'discovery')::numeric)::integer AS discovery_score,
  round((category_scores ->> 'objection_handling')::numeric)::integer AS objection_handling_score,
  round((category_scores ->> 'control')::numeric)::integer AS control_score,
  created_at AS scored_at
FROM scorecards;

-- The views run with their owner's rights, not the reader's: a login then
-- needs no right on the tables behind them, and the policies above, which
-- apply to the owner, keep it to its company's rows.
ALTER VIEW warehouse_skill_progress OWNER TO saleslab_warehouse;
ALTER VIEW warehouse_session_scores OWNER TO saleslab_warehouse;
GRANT SELECT ON warehouse_skill_progress, warehouse_session_scores TO saleslab_warehouse_reader;
