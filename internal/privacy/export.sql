-- Export's queries (internal/namedsql): each returns one JSON array of a section of the
-- document for the profiles $1 (uuid[]), through the customer_id indexes erase.sql names.
-- Interactions are the large section: ~10k rows for a heavy user, built inside Postgres.

-- name: export-profiles
SELECT coalesce(json_agg(json_build_object(
  'id', id, 'createdAt', created_at, 'updatedAt', updated_at, 'traits', traits,
  'email', email, 'phone', phone, 'firstSeenAt', first_seen_at, 'lastSeenAt', last_seen_at,
  'mergedIntoId', merged_into_id, 'mergedAt', merged_at,
  'rfm', CASE WHEN rfm_computed_at IS NULL THEN NULL ELSE json_build_object(
    'recency', rfm_recency, 'frequency', rfm_frequency, 'monetary', rfm_monetary,
    'recencyScore', rfm_recency_score, 'frequencyScore', rfm_frequency_score,
    'monetaryScore', rfm_monetary_score, 'score', rfm_score, 'label', rfm_label,
    'computedAt', rfm_computed_at) END) ORDER BY created_at, id), '[]')
FROM customers WHERE id = ANY($1::uuid[]);

-- name: export-identities
SELECT coalesce(json_agg(json_build_object(
  'type', type, 'value', value, 'firstSeenAt', first_seen_at, 'lastSeenAt', last_seen_at,
  'customerId', customer_id) ORDER BY type, value), '[]')
FROM identities WHERE customer_id = ANY($1::uuid[]);

-- name: export-interactions
SELECT coalesce(json_agg(json_build_object(
  'id', id, 'kind', kind, 'event', event, 'properties', properties, 'context', context,
  'occurredAt', occurred_at, 'receivedAt', received_at, 'messageId', message_id,
  'revenue', revenue, 'source', source, 'channel', channel, 'customerId', customer_id)
  ORDER BY occurred_at, id), '[]')
FROM interactions WHERE customer_id = ANY($1::uuid[]);

-- name: export-consents
SELECT coalesce(json_agg(json_build_object(
  'purpose', purpose, 'granted', granted, 'source', source, 'recordedAt', recorded_at,
  'proof', proof, 'customerId', customer_id) ORDER BY recorded_at DESC, id DESC), '[]')
FROM consents WHERE customer_id = ANY($1::uuid[]);

-- name: export-memberships
SELECT coalesce(json_agg(json_build_object(
  'segmentId', m.segment_id, 'segment', s.name, 'enteredAt', m.entered_at,
  'exitedAt', m.exited_at, 'customerId', m.customer_id) ORDER BY m.entered_at, m.id), '[]')
FROM segment_memberships m JOIN segments s ON s.id = m.segment_id
WHERE m.customer_id = ANY($1::uuid[]);
