-- Named queries of package identity, prepared at start-up (identity.New) so a broken query fails
-- at boot. Every query is driven by an index. Costs are wall-clock times measured per statement
-- inside BenchmarkBatchHTTP's group transactions (20k customers, 2 vCPUs shared with other
-- work, so upper bounds), for groups of 200-600 messages. PLANS.md keeps how these statements
-- got their shape: earlier forms, their measurements, and what was tried and dropped.

-- name: hold-segment-queue
-- Held shared until commit by every transaction that may queue customers for segments; see
-- migration segment_queue_barrier. First in the transaction, before any row lock, so a segment
-- being created (which waits for the holders) never sits in a deadlock cycle.
SELECT pg_advisory_xact_lock_shared(7395118264530126722);

-- name: lookup-identities
-- The identities of a group's identifiers. The LIMIT 1 keeps the lateral subquery from being
-- flattened into a hash join (which the planner picks for small tables or a generic plan, and
-- which then scans all of identities): each key is one index scan of identity_type_value.
-- 3-10 ms for ~1,300 keys; with the resolver's cache only unknown identifiers are looked up.
SELECT k.type, k.value, i.customer_id, i.last_seen_at
FROM unnest($1::text[], $2::text[]) AS k(type, value)
CROSS JOIN LATERAL (
  SELECT customer_id, last_seen_at FROM identities
  WHERE identities.type = k.type AND identities.value = k.value
  LIMIT 1
) AS i;

-- name: read-customers
-- What planning needs of the customers a group's identifiers belong to. No row lock: messages
-- that only add events to a profile never block each other (their foreign key checks take
-- FOR KEY SHARE, which merges' FOR UPDATE conflicts with, and Flush re-checks merged_into once
-- those are held). Primary key index scan; part of the 3-9 ms Resolve takes per 400 messages.
-- Only for customers missing from the resolver's cache (cache.go), which remembers these fields
-- of committed customers.
-- Not email or phone: read unlocked here, a value another group changed before this one's
-- Flush would be written back over it; load-traits reads them under lock where they are needed.
SELECT id, merged_into_id IS NOT NULL, created_at, first_seen_at, last_seen_at
FROM customers
WHERE id = ANY($1::uuid[]);

-- name: lock-customers
-- Locks every existing customer a group uses, each once, in id order ($1 sorted), with the mode
-- it needs ($2): 3 FOR UPDATE (both sides of merges, and profiles gaining identifiers: it
-- conflicts with the FOR KEY SHARE of every foreign key check, so no event, identity or consent
-- is added to a profile while it is merged away or while a guard planning checked holds),
-- 2 FOR NO KEY UPDATE (profiles whose row the group rewrites: traits, seen times), 1 FOR KEY
-- SHARE (profiles the group's events and consents merely reference). Taking them all here, in
-- one ordered pass, means the group's later statements only need locks it already holds, so two
-- concurrent groups can wait on each other here but never deadlock on customers. The function
-- scan feeds the nested loop in array order, so rows are locked in id order. Returns only the
-- rows that are not fine: merged (true) or deleted (NULL); every row is still locked, the filter
-- applying after the lateral subqueries ran.
SELECT u.id, coalesce(a.merged, b.merged, k.merged)
FROM unnest($1::uuid[], $2::int[]) WITH ORDINALITY AS u(id, mode, ord)
LEFT JOIN LATERAL (SELECT c.merged_into_id IS NOT NULL AS merged FROM customers c
                   WHERE u.mode = 3 AND c.id = u.id FOR UPDATE) a ON true
LEFT JOIN LATERAL (SELECT c.merged_into_id IS NOT NULL AS merged FROM customers c
                   WHERE u.mode = 2 AND c.id = u.id FOR NO KEY UPDATE) b ON true
LEFT JOIN LATERAL (SELECT c.merged_into_id IS NOT NULL AS merged FROM customers c
                   WHERE u.mode = 1 AND c.id = u.id FOR KEY SHARE) k ON true
WHERE coalesce(a.merged, b.merged, k.merged) IS NOT false
ORDER BY u.ord;

-- name: identity-summaries
-- Identifier counts per type (and the user_id) of customers that may merge or gain identifiers.
-- Index scan of identity_customer_id_type: 0.1-0.5 ms per group.
SELECT customer_id, type, count(*)::int, coalesce(min(value) FILTER (WHERE type = 'user_id'), '')
FROM identities
WHERE customer_id = ANY($1::uuid[])
GROUP BY customer_id, type;

-- name: load-traits
-- Reads the traits of the customers whose traits may change (per-key last-write-wins is a
-- read-modify-write), already locked FOR NO KEY UPDATE or FOR UPDATE by lock-customers.
-- Primary key index scan; 0.5-2 ms.
SELECT id, traits, trait_times, coalesce(email, ''), coalesce(phone, '')
FROM customers
WHERE id = ANY($1::uuid[]);

-- The merge statements take parallel arrays $1 (merged-away ids) and $2 (their survivors). Each
-- moves rows by the customer_id index of its table; merges are rare (a few per thousand
-- messages), and a profile's interactions move in one index range update. The redundant
-- `customer_id = ANY($1)` is there for the planner: before a table's first ANALYZE (a new
-- install, or a table growing fast) it would guess the unnest join matches 5% of the rows and
-- scan the whole table; with the array it estimates from the array's length and probes the
-- index.

-- name: merge-identities
UPDATE identities t SET customer_id = m.into_id
FROM unnest($1::uuid[], $2::uuid[]) AS m(from_id, into_id)
WHERE t.customer_id = m.from_id AND t.customer_id = ANY($1::uuid[]);

-- name: merge-interactions
UPDATE interactions t SET customer_id = m.into_id
FROM unnest($1::uuid[], $2::uuid[]) AS m(from_id, into_id)
WHERE t.customer_id = m.from_id AND t.customer_id = ANY($1::uuid[]);

-- name: merge-consents
UPDATE consents t SET customer_id = m.into_id
FROM unnest($1::uuid[], $2::uuid[]) AS m(from_id, into_id)
WHERE t.customer_id = m.from_id AND t.customer_id = ANY($1::uuid[]);

-- name: merge-memberships-dedupe
-- An open stay in a segment the survivor (or another merged profile, lower id first) is also in
-- would break the one-open-stay-per-(segment, customer) index once moved: drop it.
DELETE FROM segment_memberships s
USING unnest($1::uuid[], $2::uuid[]) AS m(from_id, into_id)
WHERE s.customer_id = m.from_id AND s.exited_at IS NULL AND EXISTS (
  SELECT 1 FROM segment_memberships t
  LEFT JOIN unnest($1::uuid[], $2::uuid[]) AS m2(from_id, into_id) ON t.customer_id = m2.from_id
  WHERE t.segment_id = s.segment_id AND t.exited_at IS NULL AND t.id <> s.id
    AND coalesce(m2.into_id, t.customer_id) = m.into_id
    AND (t.customer_id = m.into_id OR t.id < s.id));

-- name: merge-memberships
UPDATE segment_memberships t SET customer_id = m.into_id
FROM unnest($1::uuid[], $2::uuid[]) AS m(from_id, into_id)
WHERE t.customer_id = m.from_id AND t.customer_id = ANY($1::uuid[]);

-- name: merge-customers
-- Marks the merged-away profiles and re-points profiles merged into them earlier, so every old
-- id is one hop from its survivor.
WITH marked AS (
  UPDATE customers c SET merged_into_id = m.into_id, merged_at = now(), updated_at = now()
  FROM unnest($1::uuid[], $2::uuid[]) AS m(from_id, into_id) WHERE c.id = m.from_id
  RETURNING c.id
)
UPDATE customers c SET merged_into_id = m.into_id, updated_at = now()
FROM unnest($1::uuid[], $2::uuid[]) AS m(from_id, into_id)
WHERE c.merged_into_id = m.from_id AND c.id NOT IN (SELECT id FROM marked);

-- name: resolve-live
-- Follows merged_into from a customer id to its live profile (chains are one hop after
-- merge-customers, but older data may hold longer ones).
WITH RECURSIVE chain(id, next, depth) AS (
  SELECT id, merged_into_id, 0 FROM customers WHERE id = $1::uuid
  UNION ALL
  SELECT c.id, c.merged_into_id, chain.depth + 1 FROM customers c JOIN chain ON c.id = chain.next WHERE chain.depth < 16
)
SELECT id FROM chain WHERE next IS NULL;

-- name: flush-create
-- New profiles and new identifiers, before the group's events are stored (they reference them).
--  - new_customers: new profiles with their final traits and seen times.
--  - claimed: new identifiers. Rows arrive sorted by (type, value), so two groups claiming
--    overlapping identifiers wait on each other in one order instead of deadlocking; a row
--    another transaction claimed first is skipped (DO NOTHING) and the caller, seeing fewer rows
--    than planned, retries the group. Unique index identity_type_value. Foreign key checks run
--    at the end of the statement, after the new customers exist.
WITH new_customers AS (
  INSERT INTO customers (id, created_at, updated_at, traits, trait_times, email, phone, first_seen_at, last_seen_at)
  SELECT u.id, u.created_at, u.created_at, u.traits::jsonb, u.trait_times::jsonb,
         NULLIF(u.email, ''), NULLIF(u.phone, ''), u.first_seen_at, u.last_seen_at
  FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[],
              $7::timestamptz[], $8::timestamptz[])
    AS u(id, created_at, traits, trait_times, email, phone, first_seen_at, last_seen_at)
  RETURNING 1
), claimed AS (
  INSERT INTO identities (id, type, value, customer_id, first_seen_at, last_seen_at)
  SELECT u.id, u.type, u.value, u.customer_id, u.seen_at, u.seen_at
  FROM unnest($9::uuid[], $10::text[], $11::text[], $12::uuid[], $13::timestamptz[])
    AS u(id, type, value, customer_id, seen_at)
  ON CONFLICT (type, value) DO NOTHING
  RETURNING 1
)
SELECT (SELECT count(*) FROM claimed), (SELECT count(*) FROM new_customers);

-- name: flush-update
-- The rest of a group's profile writes, last in its transaction so the row locks they take are
-- held only until commit; one statement, one round trip. With flush-create, 2-8 ms per group of
-- 200-600 messages.
--  - updated: traits (NULL: unchanged; only for rows load-traits read), email, phone and seen
--    times; seen times via least/greatest, so a concurrent group's update is never undone. A
--    primary key index scan per row, every customer index updated (not HOT: last_seen_at is
--    indexed, which is why SeenGranularity skips most no-op seen updates).
--  - touched: identities' last_seen_at, only those stale by more than SeenGranularity.
--  - dirty: the touched customers, queued for incremental segment re-evaluation (an append-only
--    queue: a plain insert, which never waits for a drain taking the same customer), unless no
--    segment exists (hold-segment-queue makes that check safe against a segment being created).
--  - the last column counts the group's customers merged away meanwhile. lock-customers already
--    refuses a merged customer, and its locks keep any merge out until commit, so this is a
--    cheap second check: if it ever finds one, the caller retries the group (its events would
--    otherwise sit on a merged-away profile).
WITH updated AS (
  UPDATE customers c SET
    traits        = coalesce(NULLIF(u.traits, '')::jsonb, c.traits),
    trait_times   = coalesce(NULLIF(u.trait_times, '')::jsonb, c.trait_times),
    email         = coalesce(NULLIF(u.email, ''), c.email),
    phone         = coalesce(NULLIF(u.phone, ''), c.phone),
    first_seen_at = least(c.first_seen_at, u.first_seen_at),
    last_seen_at  = greatest(c.last_seen_at, u.last_seen_at),
    updated_at    = now()
  FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[])
    AS u(id, traits, trait_times, email, phone, first_seen_at, last_seen_at)
  WHERE c.id = u.id
  RETURNING 1
), touched AS (
  UPDATE identities i SET last_seen_at = u.seen_at
  FROM unnest($8::text[], $9::text[], $10::timestamptz[]) AS u(type, value, seen_at)
  WHERE i.type = u.type AND i.value = u.value AND i.last_seen_at < u.seen_at
  RETURNING 1
), dirty AS (
  INSERT INTO segment_dirty_customers (customer_id)
  SELECT unnest($11::uuid[]) WHERE EXISTS (SELECT 1 FROM segments)
  RETURNING 1
)
SELECT (SELECT count(*) FROM updated) + (SELECT count(*) FROM touched) + (SELECT count(*) FROM dirty),
       (SELECT count(*) FROM customers WHERE id = ANY($12::uuid[]) AND merged_into_id IS NOT NULL);
