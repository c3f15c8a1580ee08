-- The default rep of an API token: the user that `POST /v1/practice-calls`
-- starts a call for when a request made with the token names no `user_id`.
-- The foreign key includes `company_id`, so the rep is always a user of the
-- token's company. No route or job deletes users, so the reference needs no
-- ON DELETE action. Like every other reference to users, it would block
-- such a deletion.
ALTER TABLE users ADD CONSTRAINT users_company_id_id_key UNIQUE (company_id, id);

ALTER TABLE api_tokens
  ADD COLUMN default_user_id uuid,
  ADD CONSTRAINT api_tokens_default_user_fkey
    FOREIGN KEY (company_id, default_user_id) REFERENCES users (company_id, id);
