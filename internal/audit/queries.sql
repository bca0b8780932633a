-- Named queries of package audit, prepared at start-up (NewWriter) so a broken query fails at
-- boot.

-- name: insert-events
-- A batch of events as parallel arrays, in one round trip whatever its size. Append-only: no
-- index is read, audit_events' two indexes (occurred_at; target_type, target_id) are written.
-- occurred_at is the transaction's start time, like every other row the transaction writes.
INSERT INTO audit_events (id, actor, action, target_type, target_id, details, occurred_at)
SELECT u.id, u.actor, u.action, u.target_type, u.target_id, u.details::jsonb, now()
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
  AS u(id, actor, action, target_type, target_id, details);
