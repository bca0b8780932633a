-- Retention sweeps record their progress on the policy: rows_affected, and the position of an
-- unfinished run (sweep_cursor, sweep_cutoff) which the next run resumes.
ALTER TABLE "retention_policies" ADD COLUMN "rows_affected" bigint NOT NULL DEFAULT 0, ADD COLUMN "sweep_cursor" uuid NULL, ADD COLUMN "sweep_cutoff" timestamptz NULL;

-- anonymous_interactions holds what the anonymize retention action keeps of an interaction
-- (internal/privacy retention_anonymize.go): no customer, no message id, no identifying
-- member, occurred_at truncated to the hour. Hand-written: ent does not model this table, and
-- no query by customer (segments, RFM, profiles, exports) reads it.
CREATE TABLE "anonymous_interactions" (
  "id" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  "kind" character varying NOT NULL,
  "event" character varying NULL,
  "properties" jsonb NOT NULL,
  "context" jsonb NOT NULL,
  "occurred_at" timestamptz NOT NULL,
  "revenue" numeric(18,4) NULL,
  "source" character varying NULL,
  "channel" character varying NULL
);
CREATE INDEX "anonymous_interactions_event_occurred_at" ON "anonymous_interactions" ("event", "occurred_at");

-- The audit trail is append-only in the database, whoever connects: UPDATE, DELETE and
-- TRUNCATE of audit_events are refused. Audit rows never hold raw identifiers, so erasure
-- never needs to rewrite them.
CREATE FUNCTION cairn_audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON "audit_events"
  FOR EACH ROW EXECUTE FUNCTION cairn_audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON "audit_events"
  FOR EACH STATEMENT EXECUTE FUNCTION cairn_audit_events_append_only();
