-- A claim sets only `claimed_until`, which no index covers. With free room
-- on the row's page, PostgreSQL then writes the new row version beside the
-- old one as a heap-only tuple and adds no index entries. Pages filled to
-- the default 100 % have no such room, so every claim added an entry to each
-- of the table's four indexes. Pages written from now on are filled to half,
-- while the rows already stored keep their pages.
ALTER TABLE webhook_deliveries SET (fillfactor = 50);
