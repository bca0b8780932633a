-- RFM queries. Compute runs them in this order on one pinned connection:
--   lock → drop-scores → create-scores → fill-scores → analyze-scores → batch-bounds →
--   apply-batch × k, then ends the session (which drops the temp table and the lock).
-- The scores are computed once, in one statement's snapshot, and only the rows that change go
-- into the session's temp table rfm_next; those are then written to customers in keyset batches
-- by customer id, each batch its own short transaction, so ingest (which updates customers rows
-- all the time) never waits on more than one batch's row locks. Each query notes its plan and
-- current cost on 1M customers / 10M interactions (testdata/bench_seed.sql); how these were
-- measured, and what was tried and not kept, is in PLANS.md.

-- name: lock
-- Serialises computations (a second one waits): an older snapshot must not overwrite a newer one.
-- Held until the session ends (Compute discards its connection).
SELECT pg_advisory_lock($1);

-- name: drop-scores
DROP TABLE IF EXISTS pg_temp.rfm_next;

-- name: create-scores
-- One row per customer to write: scored customers whose values change, and customers who hold
-- RFM but no longer qualify, with all NULLs (label IS NULL marks a clearing row).
CREATE TEMP TABLE rfm_next (
  id        uuid PRIMARY KEY,
  recency   bigint,
  frequency bigint,
  monetary  numeric,
  r         bigint,
  f         bigint,
  m         bigint,
  score     text,
  label     text
);

-- name: fill-scores
-- Scores every customer in one statement (one snapshot) and keeps in rfm_next only the rows whose
-- stored RFM differs: changed scores, newly scored customers, and customers to clear. Returns
-- n, the rows to clear and the rows to write.
-- $1 now, $2 window start (exclusive), $3 the label grid flattened (label.go's labelArray: a
-- constant, never user input). Orders are 'Order Completed' interactions in ($2, $1].
-- score = 1 + floor(5 * (rank - 1) / n) with RANK() from worst to best; integer division of
-- non-negative bigints is the floor. n = count(*) OVER () = customers with an order in the window.
-- Plan (1M customers, 10M interactions, 750k orders in the window, 460k customers scored):
--   Index Only Scan on the covering index interaction_orders_rfm (750k rows, Heap Fetches 0) →
--   GroupAggregate (input already in customer order: no hash table) → Merge Anti Join with the
--   merged customers (Index Scan of the partial customer_merged_into_id, ~7 ms) → 3 × Sort +
--   WindowAgg (quicksort in memory, ~55 MB each) → CTE → Hash Full Join with the customers
--   holding RFM (Seq Scan filtered on rfm_label) → Sort + Insert of the changed rows only.
--   Cost: 3.4–3.6 s wall, whether 2k or all 460k rows change. It needs interaction_orders_rfm
--   (without it the orders come from ~1.5 GB of heap pages) and JIT off (Compute sets it).
WITH scored AS (
  SELECT id, recency, frequency, monetary, r, f, m,
         r::text || f::text || m::text AS score,
         ($3::text[])[(r - 1) * 5 + (f + m + 1) / 2] AS label,
         n
  FROM (
    SELECT id, recency, frequency, monetary,
           1 + 5 * (rank() OVER (ORDER BY recency DESC) - 1) / count(*) OVER () AS r,
           1 + 5 * (rank() OVER (ORDER BY frequency) - 1) / count(*) OVER () AS f,
           1 + 5 * (rank() OVER (ORDER BY monetary) - 1) / count(*) OVER () AS m,
           count(*) OVER () AS n
    FROM (
      SELECT o.customer_id AS id,
             floor(extract(epoch FROM $1::timestamptz - max(o.occurred_at)) / 86400)::bigint AS recency,
             count(*) AS frequency,
             coalesce(sum(o.revenue), 0) AS monetary
      FROM interactions o
      WHERE o.event = 'Order Completed' AND o.occurred_at > $2::timestamptz AND o.occurred_at <= $1::timestamptz
      GROUP BY o.customer_id
    ) orders
    -- Merged-away profiles are excluded before ranking (a merge moves their interactions to
    -- the survivor anyway, so this rarely removes anyone).
    WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = orders.id AND c.merged_into_id IS NOT NULL)
  ) ranked
),
-- The FULL JOIN pairs each scored customer with its stored values, and brings in customers who
-- hold RFM but are not scored now (no order in the window any more, or merged away) with NULLs.
-- Customers with no RFM before or after compare equal (all NULL) and are left out. Only customers
-- holding RFM are joined: a written RFM always has a label, so rfm_label IS NULL means all rfm_*
-- are NULL, and a scored customer without a match compares with NULLs just as the join would.
written AS (
  INSERT INTO rfm_next (id, recency, frequency, monetary, r, f, m, score, label)
  SELECT coalesce(s.id, c.id), s.recency, s.frequency, s.monetary, s.r, s.f, s.m, s.score, s.label
  FROM scored s
  FULL JOIN (SELECT * FROM customers WHERE rfm_label IS NOT NULL) c ON c.id = s.id
  WHERE (c.rfm_recency, c.rfm_frequency, c.rfm_monetary, c.rfm_recency_score, c.rfm_frequency_score,
         c.rfm_monetary_score, c.rfm_score, c.rfm_label)
        IS DISTINCT FROM
        (s.recency, s.frequency, s.monetary, s.r, s.f, s.m, s.score, s.label)
  ORDER BY 1
  RETURNING label
)
SELECT coalesce((SELECT max(n) FROM scored), 0),
       (SELECT count(*) FROM written WHERE label IS NULL),
       (SELECT count(*) FROM written);

-- name: analyze-scores
-- Temp tables are never auto-analysed; the batch plans need row estimates.
ANALYZE rfm_next;

-- name: batch-bounds
-- The last id of every full batch of $1 rows, in id order: batch k covers (bound[k-1], bound[k]].
SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM rfm_next) b
WHERE rn % $1 = 0
ORDER BY id;

-- name: hold-segment-queue
-- Taken first in each batch's transaction: apply-batch queues customers only while a segment
-- uses rfm, and creating or re-ruling a segment waits for holders (migration
-- segment_queue_barrier, and identity's hold-segment-queue, the same key).
SELECT pg_advisory_xact_lock_shared(7395118264530126722);

-- name: apply-batch
-- Writes the batch ($1, $2] (NULL = unbounded) of rfm_next. Those rows differed when scored;
-- IS DISTINCT FROM re-checks, so a row is never rewritten with its own values. An hourly run
-- rewrites only the customers whose recency crossed a day, who ordered, whose rank moved, or who
-- lost their RFM. $3 is the computation's now: rfm_computed_at says as of when this customer's
-- current values hold.
-- Plan: Nested Loop over rfm_next's rows in the range, an Index Scan on customers_pkey per row
-- (apply sets enable_mergejoin/enable_hashjoin off for its session: the planner's Merge Join
-- reads every customer in the id range, about twice the time), then Update, ~15 µs of backend
-- CPU per row (a non-HOT update writing customers' indexes). Cost (BenchmarkComputeSeeded): a
-- first computation writes every scored customer, 460k rows in ~4.8 s; an hourly one 9–19k
-- rows, one batch, 0.2–0.3 s.
-- The written customers are queued in segment_dirty_customers in the same statement (so in the
-- batch's transaction), for the incremental segment drain to re-evaluate rfm conditions — only
-- while some segment's rule has an rfm condition (one InitPlan over the few segments rows), since
-- every queued customer costs the drain a re-evaluation of every segment. The queue is
-- append-only (a plain insert never waits for a drain).
-- Returns the rows written.
WITH written AS (
UPDATE customers c
SET rfm_recency = n.recency,
    rfm_frequency = n.frequency,
    rfm_monetary = n.monetary,
    rfm_recency_score = n.r,
    rfm_frequency_score = n.f,
    rfm_monetary_score = n.m,
    rfm_score = n.score,
    rfm_label = n.label,
    rfm_computed_at = CASE WHEN n.label IS NULL THEN NULL ELSE $3::timestamptz END
FROM rfm_next n
WHERE ($1::uuid IS NULL OR n.id > $1::uuid)
  AND ($2::uuid IS NULL OR n.id <= $2::uuid)
  -- The same range on customers lets the planner scan its primary key for the range instead of
  -- hashing a seq scan of the whole table per batch.
  AND ($1::uuid IS NULL OR c.id > $1::uuid)
  AND ($2::uuid IS NULL OR c.id <= $2::uuid)
  AND c.id = n.id
  AND (c.rfm_recency, c.rfm_frequency, c.rfm_monetary, c.rfm_recency_score, c.rfm_frequency_score,
       c.rfm_monetary_score, c.rfm_score, c.rfm_label)
      IS DISTINCT FROM
      (n.recency, n.frequency, n.monetary, n.r, n.f, n.m, n.score, n.label)
RETURNING c.id
), marked AS (
  INSERT INTO segment_dirty_customers (customer_id)
  SELECT id FROM written
  WHERE EXISTS (SELECT 1 FROM segments s WHERE jsonb_path_exists(s.rule, '$.**.rfm'))
)
SELECT count(*) FROM written;

-- name: summary
-- The recency × frequency grid and the count per label in one pass over scored customers, and the
-- latest rfm_computed_at. Plan: Seq Scan on customers → HashAggregate with two hash keys (no
-- sort): 0.5 s over 1M customers / 460k scored.
SELECT rfm_recency_score, rfm_frequency_score, rfm_label, count(*), max(rfm_computed_at)
FROM customers
WHERE rfm_label IS NOT NULL AND merged_into_id IS NULL
GROUP BY GROUPING SETS ((rfm_recency_score, rfm_frequency_score), (rfm_label));
