-- Named queries of retention sweeps (retention_sweep.go). Parameters shared by the batch queries:
-- $1 cursor (the last interaction id a committed batch of this run took; the nil UUID to start),
-- $2 cutoff (interactions that occurred before it are due), $3 kind ('' = every kind),
-- $4 LIKE pattern on event with escape '\' (NULL = every interaction), $5 batch size.
--
-- Plan (1M customers / 10M interactions, half of them due): Index Scan on interactions_pkey
-- from $1 with the policy's conditions as a filter, stopping at $5 matching rows → LockRows
-- (SKIP LOCKED) → Delete by ctid. UUIDv7 ids follow arrival, so for an age-based policy the due
-- rows come first and a batch reads little beyond the rows it takes; a selective glob reads
-- further per batch, but a whole run still reads the table once. The deletes also maintain every
-- interactions index (five), which is most of a batch's cost. See PLANS.md for the measurements.

-- name: retention-lock
SELECT pg_try_advisory_lock($1);

-- name: retention-unlock
SELECT pg_advisory_unlock($1);

-- name: retention-policy-lock
-- Taken first in each batch's transaction: an update or delete of the policy through the API
-- waits for at most one batch, and a batch sees the policy as it is now.
SELECT enabled, updated_at FROM retention_policies WHERE id = $1 FOR NO KEY UPDATE;

-- name: retention-delete-batch
-- Returns the rows deleted, the last id taken (NULL when none) and the customers they belonged to.
WITH batch AS (
  SELECT id FROM interactions
  WHERE id > $1 AND occurred_at < $2
    AND ($3::text = '' OR kind = $3)
    AND ($4::text IS NULL OR event LIKE $4 ESCAPE '\')
  ORDER BY id
  LIMIT $5
  FOR UPDATE SKIP LOCKED
), gone AS (
  DELETE FROM interactions i USING batch b WHERE i.id = b.id
  RETURNING i.customer_id
)
SELECT (SELECT count(*) FROM gone),
       (SELECT id FROM batch ORDER BY id DESC LIMIT 1),
       coalesce((SELECT array_agg(DISTINCT customer_id) FROM gone), '{}');

-- name: retention-anonymize-batch
-- As retention-delete-batch, and inserts what anonymize keeps of each row into
-- anonymous_interactions: $6 the properties members and $7 the context paths kept
-- (retention_anonymize.go), $8 the longest string value kept.
WITH batch AS (
  SELECT id FROM interactions
  WHERE id > $1 AND occurred_at < $2
    AND ($3::text = '' OR kind = $3)
    AND ($4::text IS NULL OR event LIKE $4 ESCAPE '\')
  ORDER BY id
  LIMIT $5
  FOR UPDATE SKIP LOCKED
), gone AS (
  DELETE FROM interactions i USING batch b WHERE i.id = b.id
  RETURNING i.customer_id, i.kind, i.event, i.properties, i.context, i.occurred_at, i.revenue,
            i.source, i.channel
), kept AS (
  INSERT INTO anonymous_interactions (kind, event, properties, context, occurred_at, revenue, source, channel)
  SELECT g.kind, g.event,
         (SELECT coalesce(jsonb_object_agg(p.key, p.value), '{}')
            FROM jsonb_each(CASE WHEN jsonb_typeof(g.properties) = 'object' THEN g.properties END) p
           WHERE p.key = ANY($6::text[])
             AND (jsonb_typeof(p.value) IN ('number', 'boolean')
                  OR (jsonb_typeof(p.value) = 'string' AND octet_length(p.value #>> '{}') <= $8))),
         (SELECT coalesce(jsonb_object_agg(k.path, g.context #> string_to_array(k.path, '.')), '{}')
            FROM unnest($7::text[]) AS k(path)
           WHERE jsonb_typeof(g.context #> string_to_array(k.path, '.')) IN ('number', 'boolean')
              OR (jsonb_typeof(g.context #> string_to_array(k.path, '.')) = 'string'
                  AND octet_length(g.context #>> string_to_array(k.path, '.')) <= $8)),
         date_trunc('hour', g.occurred_at), g.revenue, g.source, g.channel
  FROM gone g
)
SELECT (SELECT count(*) FROM gone),
       (SELECT id FROM batch ORDER BY id DESC LIMIT 1),
       coalesce((SELECT array_agg(DISTINCT customer_id) FROM gone), '{}');

-- name: retention-delete-empty-customers
-- $1 the customers a batch took interactions from. Removes those left with no interaction and
-- no identity, the merged-away profiles pointing to them, and their consents and memberships;
-- returns how many customers it removed. Rows locked by anyone else are skipped (kept). Probes
-- identity_customer_id_type first (nearly every customer has an identity, so the probe of
-- interactions is usually skipped), then interaction_customer_id_occurred_at: 10,000 candidates
-- none of which has an identity (the worst case) took 0.28 s on 200k customers / 1M
-- interactions, on the shared 2-core machine under load.
WITH empty AS (
  SELECT c.id FROM customers c
  WHERE c.id = ANY($1::uuid[]) AND c.merged_into_id IS NULL
    AND NOT EXISTS (SELECT 1 FROM identities d WHERE d.customer_id = c.id)
    AND NOT EXISTS (SELECT 1 FROM interactions i WHERE i.customer_id = c.id)
  FOR UPDATE SKIP LOCKED
), doomed AS (
  SELECT id FROM empty
  UNION
  SELECT m.id FROM customers m JOIN empty e ON m.merged_into_id = e.id
  WHERE NOT EXISTS (SELECT 1 FROM interactions i WHERE i.customer_id = m.id)
    AND NOT EXISTS (SELECT 1 FROM identities d WHERE d.customer_id = m.id)
), consents_gone AS (
  DELETE FROM consents WHERE customer_id IN (SELECT id FROM doomed)
), memberships_gone AS (
  DELETE FROM segment_memberships WHERE customer_id IN (SELECT id FROM doomed)
), customers_gone AS (
  DELETE FROM customers WHERE id IN (SELECT id FROM doomed) RETURNING id
)
SELECT count(*) FROM customers_gone;

-- name: retention-progress
-- Records a committed batch on the policy: $2 cursor, $3 cutoff, $4 rows, $5 true for a run's
-- first batch (rows_affected restarts), $6 true for its last (the run is complete). Returns the
-- run's rows so far.
UPDATE retention_policies SET
  sweep_cursor = CASE WHEN $6 THEN NULL ELSE $2::uuid END,
  sweep_cutoff = CASE WHEN $6 THEN NULL ELSE $3::timestamptz END,
  rows_affected = CASE WHEN $5 THEN $4 ELSE rows_affected + $4 END,
  last_run_at = CASE WHEN $6 THEN now() ELSE last_run_at END
WHERE id = $1
RETURNING rows_affected;
