-- Erasure's queries (internal/namedsql). Every statement takes the erased profiles' ids as $1
-- (uuid[]) and walks an index on customer_id: interactions' (customer_id, occurred_at),
-- identities' (customer_id, type), consents' (customer_id, purpose, recorded_at),
-- segment_memberships' segment_id-leading unique index does not serve it, so memberships use
-- segmentmembership_customer_id for open rows and a scan of the person's rows otherwise.

-- name: find-subject
-- The profiles that hold the identifier: its identity row (identity_type_value), and for an
-- email also any profile whose email column holds it (customer_email; merged-away profiles keep
-- their columns). customers.phone has no index, so phones are found through identities only.
SELECT customer_id FROM identities WHERE type = $1 AND value = $2
UNION
SELECT id FROM customers WHERE $1 = 'email' AND email = $2;

-- name: profile-tree
-- Every profile of the person: up the merged_into chain to the live root, then every profile
-- merged (directly or through others) into it. customer_merged_into_id serves the walk down.
WITH RECURSIVE up(id, parent) AS (
  SELECT id, merged_into_id FROM customers WHERE id = ANY($1::uuid[])
  UNION
  SELECT c.id, c.merged_into_id FROM customers c JOIN up ON c.id = up.parent
), down(id) AS (
  SELECT id FROM up WHERE parent IS NULL
  UNION
  SELECT c.id FROM customers c JOIN down ON c.merged_into_id = down.id
)
SELECT id FROM down ORDER BY id;

-- name: lock-customers
-- In id order, as identity's lock-customers, so an erasure and an ingest group never deadlock.
SELECT id FROM customers WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE;

-- name: subject-identifiers
SELECT type, value FROM identities WHERE customer_id = ANY($1::uuid[])
UNION
SELECT 'email', email FROM customers WHERE id = ANY($1::uuid[]) AND email IS NOT NULL
UNION
SELECT 'phone', phone FROM customers WHERE id = ANY($1::uuid[]) AND phone IS NOT NULL;

-- name: delete-consents
DELETE FROM consents WHERE customer_id = ANY($1::uuid[]);

-- name: delete-memberships
DELETE FROM segment_memberships WHERE customer_id = ANY($1::uuid[]);

-- name: delete-interactions
DELETE FROM interactions WHERE customer_id = ANY($1::uuid[]);

-- name: delete-identities
DELETE FROM identities WHERE customer_id = ANY($1::uuid[]);

-- name: delete-dirty
DELETE FROM segment_dirty_customers WHERE customer_id = ANY($1::uuid[]);

-- name: delete-exports
-- Export documents are personal data too (privacy_export_documents_customer_ids, GIN).
DELETE FROM privacy_export_documents WHERE customer_ids && $1::uuid[];

-- name: delete-customers
-- One statement for the whole tree: merged_into_id's foreign key is checked at its end.
DELETE FROM customers WHERE id = ANY($1::uuid[]);

-- name: clear-requests
-- Other requests naming the person lose the identifier; unfinished ones fail (their subject is
-- gone). $1 text[] of identifier values, $2 the erasure's own request. Only unfinished requests
-- hold a value: privacy_requests_identity_value (partial) keeps this off completed history.
UPDATE privacy_requests SET identity_value = NULL,
  status = CASE WHEN status IN ('pending', 'running') THEN 'failed' ELSE status END,
  error = CASE WHEN status IN ('pending', 'running') THEN 'subject erased' ELSE error END
WHERE id <> $2 AND identity_value = ANY($1::text[]);

-- name: delete-jobs
-- Queued and finished jobs whose args, metadata or errors name the person ($1: identifier values
-- and profile ids as text). river_job is small (finished jobs are kept an hour), so the scan is
-- cheap; a job running now is left to finish ($2 is the erasure's own job). Identifiers can be
-- short (a user_id "7"), so args and metadata match only a JSON string equal to a value, at any
-- depth, never a substring of another job's ids; errors are free text, searched only for values
-- of at least 8 characters. Jobs tagged privacy_sealed hold identifiers only sealed and finish
-- this erasure (the destinations' erase jobs, enqueued by Destinations.EraseEverywhere).
DELETE FROM river_job
WHERE id <> $2 AND state <> 'running' AND NOT ('privacy_sealed' = ANY(tags))
  AND EXISTS (SELECT 1 FROM unnest($1::text[]) AS n(v)
              WHERE jsonb_path_exists(args, '$.** ? (@ == $v)', jsonb_build_object('v', n.v))
                 OR jsonb_path_exists(metadata, '$.** ? (@ == $v)', jsonb_build_object('v', n.v))
                 OR (length(n.v) >= 8 AND strpos(coalesce(errors::text, ''), n.v) > 0));

-- name: find-subjects
-- find-subject for many identifiers at once ($1 types, $2 values): the sweep after an erasure.
SELECT i.customer_id FROM identities i
JOIN unnest($1::text[], $2::text[]) AS x(t, v) ON i.type = x.t AND i.value = x.v
UNION
SELECT c.id FROM customers c JOIN unnest($1::text[], $2::text[]) AS x(t, v)
  ON x.t = 'email' AND c.email = x.v;
