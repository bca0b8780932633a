-- Named queries of the segment package (parsed at start-up by queries.go). {{name}} marks where
-- queries.go splices a compiled rule ({{want}}) or binds a parameter; nothing user-supplied is
-- ever spliced as text.

-- name: want-full
-- The full answer of a segment's rule, materialised for the diff. A separate statement (not a
-- CTE of the diff) so that it may use a parallel plan (data-modifying statements never do), and
-- so that ANALYZE gives the diff real row counts to plan with.
CREATE TEMP TABLE segment_want ON COMMIT DROP AS {{want}};

-- name: analyze-want
ANALYZE segment_want;

-- name: diff-full
-- The membership diff of one segment against segment_want, in one statement: customers with an
-- open stay who are not wanted get exited_at; wanted customers without an open stay get a new
-- row (UUIDv7 id); unchanged rows are not touched. cur snapshots the open stays first, so both
-- sides are hash anti-joins against fixed sets. Run with enable_nestloop off: a nested loop
-- probing segment_memberships while the INSERT grows it is quadratic (PLANS.md).
-- Plan (1M customers, ~9k members, see PLANS.md): index-only scan of the partial unique index
-- segmentmembership_segment_id_customer_id for cur; two Hash Anti Joins; ~30 ms beyond want.
WITH cur AS MATERIALIZED (
  SELECT customer_id FROM segment_memberships WHERE segment_id = {{segment}} AND exited_at IS NULL),
gone AS (
  SELECT c.customer_id FROM cur c WHERE NOT EXISTS (SELECT 1 FROM segment_want w WHERE w.id = c.customer_id)),
exited AS (
  UPDATE segment_memberships m SET exited_at = {{now}}
  FROM gone g
  WHERE m.segment_id = {{segment}} AND m.exited_at IS NULL AND m.customer_id = g.customer_id
  RETURNING 1),
entered AS (
  INSERT INTO segment_memberships (id, segment_id, customer_id, entered_at)
  SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING
           substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
           FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid,
         {{segment}}, w.id, {{now}}
  FROM segment_want w
  WHERE NOT EXISTS (SELECT 1 FROM cur c WHERE c.customer_id = w.id)
  RETURNING 1)
SELECT (SELECT count(*) FROM segment_want), (SELECT count(*) FROM entered), (SELECT count(*) FROM exited);

-- name: diff-ids
-- The same diff restricted to a batch of customers ({{ids}}, at most a few thousand), for the
-- incremental drain: every side is bounded by the ids, so the membership lookups are index
-- probes of (segment_id, customer_id) whatever the plan. Data-modifying CTEs share one snapshot,
-- so "entered" sees the open stays as they were before "exited" closed some.
-- Plan: want is the rule restricted by c.id = ANY(ids) (primary key probes); ~1 ms per segment
-- for 1,000 ids.
WITH want AS MATERIALIZED ({{want}}),
exited AS (
  UPDATE segment_memberships m SET exited_at = {{now}}
  WHERE m.segment_id = {{segment}} AND m.exited_at IS NULL AND m.customer_id = ANY({{ids}})
    AND NOT EXISTS (SELECT 1 FROM want w WHERE w.id = m.customer_id)
  RETURNING 1),
entered AS (
  INSERT INTO segment_memberships (id, segment_id, customer_id, entered_at)
  SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING
           substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
           FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid,
         {{segment}}, w.id, {{now}}
  FROM want w
  WHERE NOT EXISTS (SELECT 1 FROM segment_memberships m
                    WHERE m.segment_id = {{segment}} AND m.customer_id = ANY({{ids}})
                      AND m.customer_id = w.id AND m.exited_at IS NULL)
  RETURNING 1)
SELECT (SELECT count(*) FROM want), (SELECT count(*) FROM entered), (SELECT count(*) FROM exited);

-- name: take-dirty
-- Takes a batch of queued marks, oldest first (the caller de-duplicates customers: the queue is
-- append-only, so a busy customer may be queued several times). SKIP LOCKED lets two drains
-- share the queue; the rows are deleted in the caller's transaction, so a failed drain puts them
-- back. Ingest and RFM only ever insert, so they never wait for a drain.
-- Plan: index scan of segment_dirty_customers_pkey, LockRows, then delete by primary key.
DELETE FROM segment_dirty_customers
WHERE id IN (SELECT id FROM segment_dirty_customers
             ORDER BY id LIMIT {{limit}} FOR UPDATE SKIP LOCKED)
RETURNING customer_id;

-- name: history
-- Entries and exits per UTC day over the last {{days}} days, zeros included.
-- Plan: two index scans of segmentmembership_segment_id_entered_at (prefix segment_id).
WITH d AS (
  SELECT generate_series(date_trunc('day', {{now}} AT TIME ZONE 'UTC') - ({{days}} - 1) * interval '1 day',
                         date_trunc('day', {{now}} AT TIME ZONE 'UTC'), interval '1 day') AS day),
e AS (
  SELECT date_trunc('day', entered_at AT TIME ZONE 'UTC') AS day, count(*) AS n
  FROM segment_memberships WHERE segment_id = {{segment}}
    AND entered_at >= (SELECT min(day) FROM d) AT TIME ZONE 'UTC' GROUP BY 1),
x AS (
  SELECT date_trunc('day', exited_at AT TIME ZONE 'UTC') AS day, count(*) AS n
  FROM segment_memberships WHERE segment_id = {{segment}}
    AND exited_at >= (SELECT min(day) FROM d) AT TIME ZONE 'UTC' GROUP BY 1)
SELECT d.day AT TIME ZONE 'UTC', COALESCE(e.n, 0), COALESCE(x.n, 0)
FROM d LEFT JOIN e USING (day) LEFT JOIN x USING (day)
ORDER BY d.day;

-- name: due
-- Segments whose computation is due, least recently computed first (see Due).
-- Plan: sequential scan of segments (a few hundred rows at most).
SELECT id FROM segments
WHERE status = 'pending'
   OR (status <> 'failed' AND (last_computed_at IS NULL
       OR last_computed_at <= now() - refresh_every_seconds * interval '1 second'))
   OR (status = 'failed' AND updated_at <= now() - refresh_every_seconds * interval '1 second')
ORDER BY last_computed_at NULLS FIRST
LIMIT {{limit}};

-- name: lock-segment
-- Locks one segment row for a computation or a delete, so neither interleaves with a drain.
SELECT rule FROM segments WHERE id = {{segment}} FOR UPDATE;

-- name: lock-segments
-- Locks every segment in id order (the order every locker of several segments uses).
SELECT id, rule FROM segments ORDER BY id FOR UPDATE;

-- name: mark-computing
UPDATE segments SET status = 'computing' WHERE id = {{segment}} AND status <> 'computing';

-- name: finish-computation
UPDATE segments SET member_count = {{members}}, last_computed_at = {{now}}, status = 'ready', error = NULL
WHERE id = {{segment}};

-- name: record-failure
UPDATE segments SET status = 'failed', error = {{error}}, updated_at = now() WHERE id = {{segment}};

-- name: add-member-count
UPDATE segments SET member_count = member_count + {{delta}} WHERE id = {{segment}};

-- name: campaigns-of
-- Plan: index scan of campaigns by segment_id.
SELECT id FROM campaigns WHERE segment_id = {{segment}} ORDER BY id;

-- name: dependents-of
-- The segments whose rule refers to {{segment}} (inSegment), other than itself: those Delete
-- refuses to orphan and a membership change recomputes.
-- Plan: sequential scan of segments with a JSON path test per rule (a few hundred rows at most).
SELECT id FROM segments
WHERE id <> {{segment}}
  AND jsonb_path_exists(rule, '$.**.inSegment ? (@ == $id)', jsonb_build_object('id', {{segment}}::text))
ORDER BY id;

-- name: set-nestloop
SELECT set_config('enable_nestloop', {{value}}, true);

-- name: settings
-- The computation settings: work_mem keeps per-customer event aggregates in memory; JIT
-- compilation costs 0.1-0.5 s per query with these plans and never pays back for the
-- sub-second queries previews must be.
SELECT set_config('work_mem', {{work_mem}}, true), set_config('jit', 'off', true);

-- name: customers-estimate
-- The planner's estimate of the customers table's rows (no scan).
SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'customers'::regclass;

-- name: campaigns-leaving
-- Scheduled campaigns whose destination holds one of {{customers}} (snapshot row synced) while
-- the customer may no longer be emailed at that address: the latest email_marketing decision is
-- not a grant, the email changed or is gone, or the profile was merged away. Their membership
-- did not change, so no segment diff schedules them; the delta sync removes the contact. Mirrors
-- the audience predicates of internal/campaign's queries.sql (has-email, may-email).
-- Plan: campaignmember_customer_id probed per drained customer, then campaign, customer and
-- consent probes per snapshot row (a customer is in a few campaigns).
SELECT DISTINCT s.campaign_id
FROM campaign_members s
JOIN campaigns cp ON cp.id = s.campaign_id AND cp.status = 'scheduled'
JOIN customers c ON c.id = s.customer_id
WHERE s.customer_id = ANY({{customers}}) AND s.state = 'synced'
  AND NOT (c.merged_into_id IS NULL AND c.email IS NOT NULL AND c.email = s.email
           AND coalesce((SELECT k.granted FROM consents k
                         WHERE k.customer_id = c.id AND k.purpose = 'email_marketing'
                         ORDER BY k.recorded_at DESC LIMIT 1), false))
ORDER BY s.campaign_id;
