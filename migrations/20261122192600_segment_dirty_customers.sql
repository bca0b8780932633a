-- segment_dirty_customers is the queue of customers whose events or traits changed since the last
-- incremental segment re-evaluation. Ingest inserts ids in its commit (ON CONFLICT DO NOTHING, so a
-- busy customer costs one row), and a frequent job drains it in batches. Hand-written: ent does not
-- model it.
CREATE TABLE "segment_dirty_customers" (
  "customer_id" uuid NOT NULL PRIMARY KEY,
  "marked_at" timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX "segment_dirty_customers_marked_at" ON "segment_dirty_customers" ("marked_at");
