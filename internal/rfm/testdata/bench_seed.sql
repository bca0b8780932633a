-- Seeds a migrated, empty Cairn database for timing ComputeRFM at scale (not used by tests).
--
--   psql "$URL" -v customers=1000000 -v events=10000000 -f internal/rfm/testdata/bench_seed.sql
--
-- customers: UUIDv7-like ids in creation order, 1% merged away. interactions: `events` rows over
-- the last 730 days inserted in time order (as ingest appends them), 15% 'Order Completed' with
-- revenue (5% of those NULL, amounts rounded to whole units so ties occur), skewed towards
-- low-numbered customers so some customers order often and many never; the rest page views and
-- other track events with small properties/context so rows have a realistic width. Indexes and
-- the foreign key are dropped during the load and rebuilt after, with the migration's definitions.
\set ON_ERROR_STOP on
SET synchronous_commit = off;
SET maintenance_work_mem = '512MB';
SET work_mem = '256MB';

CREATE FUNCTION pg_temp.uuid7(ts timestamptz) RETURNS uuid LANGUAGE sql VOLATILE AS $$
  SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
    PLACING substring(int8send(floor(extract(epoch FROM ts) * 1000)::bigint) FROM 3) FROM 1 FOR 6),
    52, 1), 53, 1), 'hex')::uuid
$$;

CREATE TEMP TABLE seed_ids AS
SELECT g AS n, pg_temp.uuid7(now() - interval '730 days' + (g::float8 / :customers) * interval '730 days') AS id,
       now() - interval '730 days' + (g::float8 / :customers) * interval '730 days' AS created
FROM generate_series(1, :customers) g;
CREATE UNIQUE INDEX ON seed_ids (n);
ANALYZE seed_ids;

ALTER TABLE interactions DROP CONSTRAINT interactions_customers_interactions;
DROP INDEX interaction_customer_id_event_occurred_at, interaction_customer_id_occurred_at,
  interaction_event_occurred_at, interaction_message_id, interaction_orders_rfm;

INSERT INTO customers (id, created_at, updated_at, traits, trait_times, email, first_seen_at, last_seen_at)
SELECT id, created, created,
       jsonb_build_object('name', 'Customer ' || n, 'plan', (ARRAY['free','pro','team'])[1 + n % 3]),
       '{}'::jsonb, 'customer' || n || '@example.com', created, created
FROM seed_ids;

-- 1% merged away into the next customer.
UPDATE customers c SET merged_into_id = s2.id, merged_at = now()
FROM seed_ids s1 JOIN seed_ids s2 ON s2.n = s1.n + 1
WHERE c.id = s1.id AND s1.n % 100 = 0;

INSERT INTO interactions (id, kind, event, properties, context, occurred_at, received_at, message_id,
                          revenue, source, channel, customer_id)
SELECT pg_temp.uuid7(e.ts),
       CASE WHEN e.ev = 'Page Viewed' THEN 'page' ELSE 'track' END,
       CASE WHEN e.ev = 'Page Viewed' THEN NULL ELSE e.ev END,
       CASE WHEN e.ev = 'Order Completed' THEN jsonb_build_object('order_id', 'o' || e.g, 'revenue', e.revenue)
            ELSE jsonb_build_object('path', '/products/' || (e.g % 5000), 'title', 'Product page') END,
       jsonb_build_object('ip', '192.0.2.0', 'userAgent', 'Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/130.0',
                          'locale', 'en-US'),
       e.ts, e.ts, 'seed-' || e.g, e.revenue, 'seed', 'web', s.id
FROM (
  SELECT g, ts, ev,
         CASE WHEN ev = 'Order Completed' AND random() > 0.05 THEN round((5 + random() * 195)::numeric, 0) END AS revenue,
         CASE WHEN ev = 'Order Completed' THEN 1 + floor(:customers * power(random(), 2))::bigint
              ELSE 1 + floor(:customers * random())::bigint END AS n
  FROM (
    SELECT g, now() - random() * interval '730 days' AS ts,
           CASE WHEN random() < 0.15 THEN 'Order Completed'
                ELSE (ARRAY['Page Viewed','Product Viewed','Product Added','Email Opened'])[1 + floor(random() * 4)::int] END AS ev
    FROM generate_series(1, :events) g
  ) x
) e
JOIN seed_ids s ON s.n = least(e.n, :customers)
ORDER BY e.ts;

CREATE INDEX interaction_customer_id_event_occurred_at ON interactions (customer_id, event, occurred_at);
CREATE INDEX interaction_customer_id_occurred_at ON interactions (customer_id, occurred_at);
CREATE INDEX interaction_event_occurred_at ON interactions (event, occurred_at);
CREATE UNIQUE INDEX interaction_message_id ON interactions (message_id);
CREATE INDEX interaction_orders_rfm ON interactions (customer_id, occurred_at) INCLUDE (revenue)
  WHERE event = 'Order Completed';
ALTER TABLE interactions ADD CONSTRAINT interactions_customers_interactions FOREIGN KEY (customer_id)
  REFERENCES customers (id) ON UPDATE NO ACTION ON DELETE NO ACTION;
VACUUM ANALYZE customers;
VACUUM ANALYZE interactions;
