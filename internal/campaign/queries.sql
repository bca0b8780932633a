-- Named queries of the campaign package (parsed at start-up by queries.go). {{has-email}} and
-- {{may-email}} are spliced in from the blocks of those names (fixed text, never user values);
-- every value is a parameter. Customers are aliased c, segment memberships m.

-- name: has-email
-- A customer the destination can address. customers.email is stored normalised (identity
-- lower-cases it), so the snapshot compares it as is and customer_email serves the lookups.
c.merged_into_id IS NULL AND c.email IS NOT NULL AND c.email <> ''

-- name: may-email
-- A customer who may be emailed: the latest email_marketing decision is a grant (index-only
-- backward scan of consent_customer_id_purpose_recorded_at). The privacy work adds "not
-- suppressed" here; every audience query follows.
coalesce((SELECT k.granted FROM consents k
          WHERE k.customer_id = c.id AND k.purpose = 'email_marketing'
          ORDER BY k.recorded_at DESC LIMIT 1), false)

-- name: upsert-diff
-- One pass over the segment's current members. Members left out of the audience come back
-- with skip saying why (no_email, no_consent) and nothing else to do: the run counts them.
-- Audience members come back when the destination lacks them or holds them stale: no snapshot
-- row, a row not synced, or a different payload hash (email and merge fields). Rows this run
-- ($6) already failed are left out, and the run reads this once and streams it, so a run
-- sends each contact at most once; a confirmed contact matches its snapshot, so a resumed run
-- skips it. Merge fields come from the parallel arrays $3 (name), $4 (source: email,
-- customer_id, trait) and $5 (trait key).
-- When two audience members share an email, the lowest customer id represents it. Deciding
-- that in SQL (DISTINCT ON email) sorted the whole audience before its first row, so nothing
-- reached the provider for the first ~1 s of a 100k sync. Instead each audience row says
-- whether any other live customer has its email (shared, a customer_email probe): unshared
-- rows need no choice and stream in index order, already filtered against the snapshot;
-- shared rows (rare) come unfiltered, with send saying whether they need sending, and the
-- caller picks each email's representative once the stream ends.
-- Plan: the segment's open stays (index order) joined to customers, with a consent, an email
-- and a snapshot probe per member; nothing is sorted or hashed, so rows stream from the start.
-- The OFFSET 0 fences keep each probe to one evaluation per member (flattened, the shared
-- probe ran in both the select list and the filter).
SELECT a.customer_id, a.email, a.fields, a.hash, coalesce(s.payload_hash, ''), a.skip, a.shared,
       (s.state IS NULL OR s.state <> 'synced' OR s.payload_hash <> a.hash)
         AND NOT coalesce(s.state = 'failed' AND s.last_sync_id = $6, false) AS send
FROM (
  SELECT b.*, b.skip = '' AND EXISTS (SELECT 1 FROM customers o
           WHERE o.email = b.email AND o.id <> b.customer_id AND o.merged_into_id IS NULL) AS shared
  FROM (
    SELECT c.id AS customer_id, coalesce(c.email, '') AS email, f.fields,
           md5(coalesce(c.email, '') || ' ' || f.fields::text) AS hash,
           CASE WHEN NOT ({{has-email}}) THEN 'no_email'
                WHEN NOT ({{may-email}}) THEN 'no_consent' ELSE '' END AS skip
    FROM segment_memberships m
    -- One customers_pkey probe per member, in membership order (LIMIT 1 keeps it a probe):
    -- as a join, the planner hashed the whole customers table first (370 ms before the
    -- first row on 1.7M customers).
    CROSS JOIN LATERAL (SELECT * FROM customers x WHERE x.id = m.customer_id LIMIT 1) c
    CROSS JOIN LATERAL (
      SELECT coalesce(jsonb_object_agg(x.name, CASE x.source
               WHEN 'email' THEN c.email
               WHEN 'customer_id' THEN c.id::text
               ELSE coalesce(c.traits ->> x.key, '') END), '{}'::jsonb) AS fields
      FROM unnest($3::text[], $4::text[], $5::text[]) AS x(name, source, key)) f
    WHERE m.segment_id = $2 AND m.exited_at IS NULL
    OFFSET 0) b
  OFFSET 0) a
LEFT JOIN LATERAL (
  -- A probe of the snapshot's unique index per member (LIMIT 1 keeps the planner from turning
  -- it back into a join): with the snapshot's statistics stale after a first sync filled it,
  -- the join put the snapshot outside and ran the whole audience again per snapshot row.
  SELECT s.payload_hash, s.state, s.last_sync_id FROM campaign_members s
  WHERE s.campaign_id = $1 AND s.customer_id = a.customer_id LIMIT 1) s ON true
WHERE a.skip <> '' OR a.shared OR ((s.state IS NULL OR s.state <> 'synced' OR s.payload_hash <> a.hash)
  AND NOT coalesce(s.state = 'failed' AND s.last_sync_id = $6, false))

-- name: remove-diff
-- The snapshot rows the audience no longer wants as they are: the customer left the audience
-- or changed email. wanted tells whether another audience member now holds the same email (a
-- merge): then the row is dropped without a call, and the upsert pass sends that member. Rows
-- this run ($3) already failed are left out.
-- Plan: walks the campaign's snapshot rows; each costs a membership, customer and consent
-- probe, and an email probe (customer_email) when it is leaving. ~20 us per snapshot row
-- (50k rows, nothing to remove: 0.9-2.7 s, the higher figure under load).
SELECT s.customer_id, s.email, s.payload_hash <> '' AS held,
       EXISTS (SELECT 1 FROM customers c JOIN segment_memberships m
                 ON m.customer_id = c.id AND m.segment_id = $2 AND m.exited_at IS NULL
               WHERE c.email = s.email AND {{has-email}} AND {{may-email}}) AS wanted
FROM campaign_members s
WHERE s.campaign_id = $1 AND s.state <> 'removed'
  AND NOT coalesce(s.state = 'failed' AND s.last_sync_id = $3, false)
  AND NOT EXISTS (
    SELECT 1 FROM segment_memberships m JOIN customers c ON c.id = m.customer_id
    WHERE m.segment_id = $2 AND m.exited_at IS NULL AND m.customer_id = s.customer_id
      AND c.email = s.email AND {{has-email}} AND {{may-email}})

-- name: confirm-upserts
-- Contacts the destination confirmed: the snapshot now holds what was sent.
INSERT INTO campaign_members (id, campaign_id, customer_id, email, payload_hash, state, last_sync_id, updated_at)
SELECT gen_random_uuid(), $1, u.customer_id, u.email, u.hash, 'synced', $2, now()
FROM unnest($3::uuid[], $4::text[], $5::text[]) AS u(customer_id, email, hash)
ON CONFLICT (campaign_id, customer_id) DO UPDATE
SET email = excluded.email, payload_hash = excluded.payload_hash, state = 'synced',
    last_error = NULL, last_sync_id = excluded.last_sync_id, updated_at = excluded.updated_at

-- name: fail-contacts
-- Contacts the destination rejected: state failed with the error; what the destination holds
-- (email, payload_hash) is unchanged, and a new row holds nothing (payload_hash '').
INSERT INTO campaign_members (id, campaign_id, customer_id, email, payload_hash, state, last_error, last_sync_id, updated_at)
SELECT gen_random_uuid(), $1, u.customer_id, u.email, '', 'failed', u.error, $2, now()
FROM unnest($3::uuid[], $4::text[], $5::text[]) AS u(customer_id, email, error)
ON CONFLICT (campaign_id, customer_id) DO UPDATE
SET state = 'failed', last_error = excluded.last_error, last_sync_id = excluded.last_sync_id,
    updated_at = excluded.updated_at

-- name: confirm-removals
-- Rows the destination no longer holds (removal confirmed, or nothing to remove).
UPDATE campaign_members
SET state = 'removed', payload_hash = '', last_error = NULL, last_sync_id = $2, updated_at = now()
WHERE campaign_id = $1 AND customer_id = ANY($3::uuid[])

-- name: add-counts
UPDATE campaign_syncs
SET added = added + $2, updated = updated + $3, removed = removed + $4, failed = failed + $5
WHERE id = $1

-- name: running-sync
-- The campaign's running sync, if any, and whether its River job can still run it.
SELECT s.id, s.job_id,
       s.job_id IS NULL OR EXISTS (SELECT 1 FROM river_job j WHERE j.id = s.job_id
         AND j.state IN ('available', 'pending', 'running', 'retryable', 'scheduled')) AS alive
FROM campaign_syncs s
WHERE s.campaign_id = $1 AND s.status = 'running'

-- name: tracking-person
-- Who a tracking token's customer is now (the survivor when merged): an identifier the ingest
-- path resolves back to them (user_id, else anonymous_id; the email rides along), and whether
-- their latest email_tracking decision allows linking an open or click to them (no decision:
-- allowed). Plan: primary-key probes, identity_customer_id_type and a backward scan of
-- consent_customer_id_purpose_recorded_at.
SELECT c.id, coalesce(c.email, ''),
       coalesce((SELECT i.value FROM identities i WHERE i.customer_id = c.id AND i.type = 'user_id'
                 ORDER BY i.last_seen_at DESC LIMIT 1), ''),
       coalesce((SELECT i.value FROM identities i WHERE i.customer_id = c.id AND i.type = 'anonymous_id'
                 ORDER BY i.last_seen_at DESC LIMIT 1), ''),
       coalesce((SELECT k.granted FROM consents k WHERE k.customer_id = c.id AND k.purpose = 'email_tracking'
                 ORDER BY k.recorded_at DESC LIMIT 1), true)
FROM customers x JOIN customers c ON c.id = coalesce(x.merged_into_id, x.id)
WHERE x.id = $1

-- name: count-untracked
-- One open or click of a person who may not be tracked: an aggregate count, nothing personal.
INSERT INTO campaign_tracking_counts (campaign_id, kind, machine, day, count)
VALUES ($1, $2, $3, current_date, 1)
ON CONFLICT (campaign_id, kind, machine, day) DO UPDATE SET count = campaign_tracking_counts.count + 1

-- name: stats
-- A campaign's figures in one statement ($1 the campaign; no row when it does not exist).
-- Audience: distinct emails of the audience now. Opens and clicks: people with at least one
-- recorded Email Opened / Email Link Clicked carrying the campaign's id, human and machine
-- apart (a person may count in both). Conversions: Order Completed interactions of a person
-- who clicked (as a person, not a scanner) at most conversion_window_days before the order;
-- revenue is theirs.
-- Unlinked: events of people who denied email_tracking, from campaign_tracking_counts.
-- Plan: the audience as in skipped; the campaign's email events through
-- interaction_event_occurred_at (every campaign's email events, filtered on the campaign id;
-- an expression index on properties->>'campaign_id' is the next step if that grows);
-- conversions probe interaction_orders_rfm per clicker.
WITH cp AS (
  SELECT segment_id, conversion_window_days FROM campaigns WHERE id = $1
), ev AS MATERIALIZED (
  SELECT i.customer_id, i.event, i.occurred_at,
         coalesce((i.properties ->> 'machine')::boolean, false) AS machine
  FROM interactions i
  WHERE i.event IN ('Email Opened', 'Email Link Clicked') AND i.properties ->> 'campaign_id' = $1::text
), clicks AS MATERIALIZED (
  SELECT customer_id, occurred_at FROM ev WHERE event = 'Email Link Clicked' AND NOT machine
), conv AS (
  SELECT o.revenue FROM interactions o
  WHERE o.event = 'Order Completed' AND o.customer_id IN (SELECT customer_id FROM clicks)
    AND EXISTS (SELECT 1 FROM clicks k WHERE k.customer_id = o.customer_id
                  AND o.occurred_at >= k.occurred_at
                  AND o.occurred_at < k.occurred_at + make_interval(days => (SELECT conversion_window_days::int FROM cp)))
), unlinked AS (
  SELECT coalesce(sum(count) FILTER (WHERE kind = 'open' AND NOT machine), 0) AS opens,
         coalesce(sum(count) FILTER (WHERE kind = 'open' AND machine), 0) AS machine_opens,
         coalesce(sum(count) FILTER (WHERE kind = 'click' AND NOT machine), 0) AS clicks
  FROM campaign_tracking_counts WHERE campaign_id = $1
)
SELECT
  (SELECT count(DISTINCT c.email) FROM segment_memberships m JOIN customers c ON c.id = m.customer_id
   WHERE m.segment_id = cp.segment_id AND m.exited_at IS NULL AND {{has-email}} AND {{may-email}}),
  (SELECT count(*) FROM campaign_members s WHERE s.campaign_id = $1 AND s.state = 'synced'),
  (SELECT count(DISTINCT customer_id) FROM ev WHERE event = 'Email Opened' AND NOT machine),
  (SELECT count(DISTINCT customer_id) FROM ev WHERE event = 'Email Opened' AND machine),
  (SELECT count(DISTINCT customer_id) FROM clicks),
  (SELECT count(*) FROM conv),
  (SELECT coalesce(sum(revenue), 0) FROM conv)::float8,
  u.opens, u.machine_opens, u.clicks
FROM unlinked u, cp
