-- Values of the service that no other database role may read.
CREATE TABLE service_secrets (
  name text PRIMARY KEY,
  value text NOT NULL
);

-- PostgreSQL checks no right for LISTEN and NOTIFY: any role connected to
-- the database may listen on any channel and notify it. The delivery
-- engine's channel therefore gets a random name, kept in the table above,
-- so that a warehouse login can neither see which subscriptions have work
-- nor send the engine wake-ups.
INSERT INTO service_secrets (name, value)
VALUES ('delivery_channel', 'webhook_deliveries_' || replace(gen_random_uuid()::text, '-', ''));
