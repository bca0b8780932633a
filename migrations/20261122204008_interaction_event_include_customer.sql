-- Replace index "interaction_event_occurred_at" with one that includes customer_id, so segment
-- event-count conditions aggregate a window per customer with an index-only scan.
-- Atlas generates DROP INDEX + CREATE INDEX: the DROP takes an ACCESS EXCLUSIVE lock on
-- interactions that the migration's transaction would then hold for the whole index build,
-- blocking reads as well as writes. Building the new index first (a SHARE lock: reads go on,
-- writes wait) and swapping names afterwards holds the exclusive lock only for the swap.
CREATE INDEX "interaction_event_occurred_at_incl" ON "interactions" ("event", "occurred_at") INCLUDE ("customer_id");
DROP INDEX "interaction_event_occurred_at";
ALTER INDEX "interaction_event_occurred_at_incl" RENAME TO "interaction_event_occurred_at";
