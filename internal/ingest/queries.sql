-- Named queries of package ingest, prepared at start-up (NewPipeline) so a broken query fails at
-- boot. Costs are wall-clock times per statement measured inside BenchmarkBatchHTTP's group
-- transactions (groups of 200-600 messages, 2 vCPUs shared with other work: upper bounds).

-- name: existing-message-ids
-- Which of a group's messageIds are already stored (retries). Index scan of the unique
-- interaction_message_id per id: 0.3-6 ms per group. Skipped (the unique index then fails the
-- COPY of a retried message, and the group is committed again with this check) unless a
-- retried message was met in the last 30 s (dupCheckWindow).
SELECT message_id FROM interactions WHERE message_id = ANY($1::text[]);

-- name: latest-analytics-consents
-- Each customer's latest analytics decision: one backward index-only scan of
-- consent_customer_id_purpose_recorded_at per customer (DISTINCT ON picks the first row);
-- 0.4-5 ms per group.
SELECT DISTINCT ON (customer_id) customer_id, granted, recorded_at
FROM consents
WHERE customer_id = ANY($1::uuid[]) AND purpose = 'analytics'
ORDER BY customer_id, recorded_at DESC;

-- name: insert-consents
-- The group's consent decisions (from context.consent), one multi-row insert.
INSERT INTO consents (id, customer_id, purpose, granted, source, recorded_at, proof)
SELECT u.id, u.customer_id, u.purpose, u.granted, u.source, u.recorded_at, u.proof::jsonb
FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bool[], $5::text[], $6::timestamptz[], $7::text[])
  AS u(id, customer_id, purpose, granted, source, recorded_at, proof);

-- Interactions are written with COPY (Pipeline.insertEvents): the heap insert, five index
-- insertions (pkey, message_id, (customer_id, occurred_at), (customer_id, event, occurred_at),
-- (event, occurred_at)) and the customers foreign key check per row; ~15 ms for 600 rows on the
-- quiet test cluster (PLANS.md compares it with INSERT … SELECT FROM unnest(…)).
-- Rows go in customer_id order, so a customer's rows follow each other: its foreign key check
-- finds the row this transaction already locked, and its (customer_id, …) index entries land on
-- the same leaf pages. properties and context are the client's own JSON text when prepare did
-- not need to change them (no re-encoding in Go; jsonb normalises it the same way).
