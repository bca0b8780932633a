-- benchseed.sql fills an EMPTY, migrated Cairn database with synthetic data for `cairn bench
-- segments` when `cairn seed` is not available:
--   psql "$DATABASE_URL" -v customers=1000000 -v events=10000000 -f internal/segment/testdata/benchseed.sql
-- Customer i has id md5('c'||i)::uuid; 1% are merged away; ~70% have email_marketing consent
-- history (latest wins); events span the last 365 days over six names (8% Order Completed).
-- Interaction indexes are dropped during the load and rebuilt with their migration names.
\set ON_ERROR_STOP on
SET maintenance_work_mem = '1GB';
SET synchronous_commit = off;

INSERT INTO customers (id, created_at, updated_at, traits, trait_times, email, first_seen_at, last_seen_at)
SELECT md5('c' || i)::uuid, now(), now(),
       jsonb_build_object(
         'plan', (ARRAY['free','pro','enterprise','Pro','free'])[1 + i % 5],
         'age', 18 + (i * 7919) % 60,
         'country', (ARRAY['DE','FR','US','GB','JP','BR','IN'])[1 + (i * 31) % 7],
         'signup', to_char(date '2024-01-01' + (i % 700)::int, 'YYYY-MM-DD')),
       '{}'::jsonb, 'user' || i || '@example.com', now() - interval '400 days', now()
FROM generate_series(1::bigint, :customers) AS i;

UPDATE customers SET merged_into_id = md5('c1')::uuid, merged_at = now()
WHERE id IN (SELECT md5('c' || i)::uuid FROM generate_series(2, :customers, 100) AS i);

INSERT INTO identities (id, type, value, first_seen_at, last_seen_at, customer_id)
SELECT gen_random_uuid(), 'email', 'user' || i || '@example.com', now(), now(), md5('c' || i)::uuid
FROM generate_series(1::bigint, :customers) AS i;

INSERT INTO consents (id, purpose, granted, source, recorded_at, customer_id)
SELECT gen_random_uuid(), 'email_marketing', (i % 10) <> 3, 'seed', now() - interval '100 days', md5('c' || i)::uuid
FROM generate_series(1, :customers) AS i WHERE i % 10 < 7;
-- A later decision for some: withdrawn (latest wins).
INSERT INTO consents (id, purpose, granted, source, recorded_at, customer_id)
SELECT gen_random_uuid(), 'email_marketing', false, 'seed', now() - interval '10 days', md5('c' || i)::uuid
FROM generate_series(1, :customers) AS i WHERE i % 10 = 5;

DROP INDEX interaction_customer_id_event_occurred_at;
DROP INDEX interaction_customer_id_occurred_at;
DROP INDEX interaction_event_occurred_at;
DROP INDEX interaction_message_id;

INSERT INTO interactions (id, kind, event, properties, occurred_at, received_at, message_id, revenue, customer_id)
SELECT gen_random_uuid(), 'track', e.name,
       CASE WHEN e.name = 'Order Completed' THEN jsonb_build_object('revenue', round((random() * 200)::numeric, 2), 'currency', 'EUR')
            ELSE jsonb_build_object('path', '/p/' || (i % 50)) END,
       t.at, t.at, 'm' || i,
       CASE WHEN e.name = 'Order Completed' THEN round((random() * 200)::numeric, 2) END,
       md5('c' || (1 + (hashint8(i)::bigint & 2147483647) % :customers))::uuid
FROM generate_series(1::bigint, :events) AS i
CROSS JOIN LATERAL (SELECT now() - (random() + i * 0) * interval '365 days' AS at) t
CROSS JOIN LATERAL (SELECT CASE WHEN r < 0.40 THEN 'Page Viewed' WHEN r < 0.65 THEN 'Product Viewed'
                                WHEN r < 0.77 THEN 'Added to Cart' WHEN r < 0.85 THEN 'Order Completed'
                                WHEN r < 0.95 THEN 'Email Opened' ELSE 'Signed Up' END AS name
                    FROM (SELECT random() + i * 0 AS r) x) e;

CREATE INDEX interaction_customer_id_event_occurred_at ON interactions (customer_id, event, occurred_at);
CREATE INDEX interaction_customer_id_occurred_at ON interactions (customer_id, occurred_at);
CREATE INDEX interaction_event_occurred_at ON interactions (event, occurred_at);
CREATE UNIQUE INDEX interaction_message_id ON interactions (message_id);
VACUUM ANALYZE;
