-- The record statement inserts an attempt only for a delivery row it has just
-- updated, and the retention run deletes attempts with their delivery. The
-- foreign key's check cost a lookup and a row lock per recorded attempt.
ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_delivery_pk_fkey;
