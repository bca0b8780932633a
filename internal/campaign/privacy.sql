-- The campaign side of erasure and consent withdrawal (privacy.go). {{may-email}} is spliced in
-- from queries.sql (fixed text); every value is a parameter. campaign_members has no index on
-- customer_id or email alone, so the statements naming people scan the snapshot table once
-- (tens of milliseconds at 100k rows); an index on each is the follow-up if that grows.

-- name: erase-targets
-- Per destination, the emails its campaigns' snapshots hold for the erased profiles ($1) or
-- erased emails ($2), in any state: an archived (removed) Mailchimp member still exists there.
SELECT k.destination_id, array_agg(DISTINCT s.email ORDER BY s.email)
FROM campaign_members s JOIN campaigns k ON k.id = s.campaign_id
WHERE s.customer_id = ANY($1::uuid[]) OR s.email = ANY($2::text[])
GROUP BY k.destination_id ORDER BY k.destination_id

-- name: erase-rows
DELETE FROM campaign_members WHERE customer_id = ANY($1::uuid[]) OR email = ANY($2::text[])

-- name: erase-late-rows
-- After the provider erased emails ($2) at destination $1: rows a sync that was already running
-- wrote for them after the erasure committed.
DELETE FROM campaign_members s USING campaigns k
WHERE k.id = s.campaign_id AND k.destination_id = $1 AND s.email = ANY($2::text[])

-- name: sync-in-flight
-- Whether a sync of a campaign on destination $1 is being worked by a River attempt that began
-- before $2: it may have read its audience before the erasure committed and still send the
-- person. Syncs run without a job (job_id NULL) are not seen.
SELECT EXISTS (
  SELECT 1 FROM campaign_syncs s
  JOIN campaigns k ON k.id = s.campaign_id
  JOIN river_job j ON j.id = s.job_id
  WHERE k.destination_id = $1 AND s.status = 'running' AND j.state = 'running' AND j.attempted_at < $2)

-- name: withdraw-targets
-- Per destination, the profiles of customer $1 (it and every profile merged into it) whose
-- snapshot rows say the destination holds them.
WITH RECURSIVE tree(id) AS (
  SELECT $1::uuid
  UNION
  SELECT c.id FROM customers c JOIN tree ON c.merged_into_id = tree.id)
SELECT k.destination_id, array_agg(DISTINCT s.customer_id ORDER BY s.customer_id)
FROM campaign_members s JOIN campaigns k ON k.id = s.campaign_id
WHERE s.customer_id IN (SELECT id FROM tree) AND s.state <> 'removed' AND s.payload_hash <> ''
GROUP BY k.destination_id ORDER BY k.destination_id

-- name: withdraw-held
-- The emails destination $1 holds for profiles $2, while customer $3's latest email_marketing
-- decision is still a withdrawal (a grant since then makes the removal moot).
SELECT DISTINCT s.email
FROM campaign_members s JOIN campaigns k ON k.id = s.campaign_id
WHERE k.destination_id = $1 AND s.customer_id = ANY($2::uuid[])
  AND s.state <> 'removed' AND s.payload_hash <> ''
  AND EXISTS (SELECT 1 FROM customers c WHERE c.id = $3 AND NOT {{may-email}})
ORDER BY 1

-- name: withdraw-confirm
-- The destination confirmed the removal of emails $3: the snapshot rows of profiles $2 say so,
-- so no later delta re-sends them (and the audience predicate keeps them out).
UPDATE campaign_members s
SET state = 'removed', payload_hash = '', last_error = NULL, updated_at = now()
FROM campaigns k
WHERE k.id = s.campaign_id AND k.destination_id = $1 AND s.customer_id = ANY($2::uuid[])
  AND s.email = ANY($3::text[]) AND s.state <> 'removed'

-- name: export-person
-- What the campaign side holds on profiles $1 or emails $2, for a data subject's export: each
-- campaign's snapshot row with its destination's kind and the run that last touched it.
SELECT k.id, k.name, d.kind::text, s.email, s.state, coalesce(s.last_error, ''), s.updated_at, ls.started_at
FROM campaign_members s
JOIN campaigns k ON k.id = s.campaign_id
JOIN destinations d ON d.id = k.destination_id
LEFT JOIN campaign_syncs ls ON ls.id = s.last_sync_id
WHERE s.customer_id = ANY($1::uuid[]) OR s.email = ANY($2::text[])
ORDER BY k.name, k.id, s.email
