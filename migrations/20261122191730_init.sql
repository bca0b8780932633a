-- Create "privacy_requests" table
CREATE TABLE "privacy_requests" ("id" uuid NOT NULL, "kind" character varying NOT NULL, "identity_type" character varying NOT NULL, "identity_value" character varying NULL, "subject_hash" character varying NULL, "status" character varying NOT NULL DEFAULT 'pending', "requested_at" timestamptz NOT NULL, "completed_at" timestamptz NULL, "counts" jsonb NULL, "export" jsonb NULL, "error" character varying NULL, PRIMARY KEY ("id"));
-- Create index "privacyrequest_status_requested_at" to table: "privacy_requests"
CREATE INDEX "privacyrequest_status_requested_at" ON "privacy_requests" ("status", "requested_at");
-- Create "audit_events" table
CREATE TABLE "audit_events" ("id" uuid NOT NULL, "actor" character varying NOT NULL, "action" character varying NOT NULL, "target_type" character varying NULL, "target_id" character varying NULL, "details" jsonb NULL, "occurred_at" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- Create index "auditevent_occurred_at" to table: "audit_events"
CREATE INDEX "auditevent_occurred_at" ON "audit_events" ("occurred_at");
-- Create index "auditevent_target_type_target_id" to table: "audit_events"
CREATE INDEX "auditevent_target_type_target_id" ON "audit_events" ("target_type", "target_id");
-- Create "destinations" table
CREATE TABLE "destinations" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "kind" character varying NOT NULL, "name" character varying NOT NULL, "config" jsonb NOT NULL, PRIMARY KEY ("id"));
-- Create "api_keys" table
CREATE TABLE "api_keys" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "prefix" character varying NOT NULL, "hash" bytea NOT NULL, "scopes" jsonb NOT NULL, "last_used_at" timestamptz NULL, "revoked_at" timestamptz NULL, PRIMARY KEY ("id"));
-- Create index "api_keys_prefix_key" to table: "api_keys"
CREATE UNIQUE INDEX "api_keys_prefix_key" ON "api_keys" ("prefix");
-- Create "retention_policies" table
CREATE TABLE "retention_policies" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "kind" character varying NULL, "event_pattern" character varying NULL, "keep_days" bigint NOT NULL, "action" character varying NOT NULL, "enabled" boolean NOT NULL DEFAULT true, "last_run_at" timestamptz NULL, PRIMARY KEY ("id"));
-- Create "segments" table
CREATE TABLE "segments" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "description" character varying NULL, "rule" jsonb NOT NULL, "refresh_every_seconds" bigint NOT NULL DEFAULT 3600, "member_count" bigint NOT NULL DEFAULT 0, "last_computed_at" timestamptz NULL, "status" character varying NOT NULL DEFAULT 'pending', "error" character varying NULL, PRIMARY KEY ("id"));
-- Create index "segments_name_key" to table: "segments"
CREATE UNIQUE INDEX "segments_name_key" ON "segments" ("name");
-- Create "campaigns" table
CREATE TABLE "campaigns" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "schedule_kind" character varying NULL, "schedule_at" timestamptz NULL, "schedule_cron" character varying NULL, "schedule_timezone" character varying NULL, "next_run_at" timestamptz NULL, "status" character varying NOT NULL DEFAULT 'draft', "destination_id" uuid NOT NULL, "segment_id" uuid NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "campaigns_destinations_campaigns" FOREIGN KEY ("destination_id") REFERENCES "destinations" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "campaigns_segments_campaigns" FOREIGN KEY ("segment_id") REFERENCES "segments" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create "campaign_syncs" table
CREATE TABLE "campaign_syncs" ("id" uuid NOT NULL, "started_at" timestamptz NOT NULL, "finished_at" timestamptz NULL, "added" bigint NOT NULL DEFAULT 0, "removed" bigint NOT NULL DEFAULT 0, "failed" bigint NOT NULL DEFAULT 0, "status" character varying NOT NULL DEFAULT 'running', "error" character varying NULL, "campaign_id" uuid NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "campaign_syncs_campaigns_syncs" FOREIGN KEY ("campaign_id") REFERENCES "campaigns" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "campaignsync_campaign_id_started_at" to table: "campaign_syncs"
CREATE INDEX "campaignsync_campaign_id_started_at" ON "campaign_syncs" ("campaign_id", "started_at");
-- Create "customers" table
CREATE TABLE "customers" ("id" uuid NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "traits" jsonb NOT NULL, "trait_times" jsonb NOT NULL, "email" character varying NULL, "phone" character varying NULL, "first_seen_at" timestamptz NOT NULL, "last_seen_at" timestamptz NOT NULL, "merged_at" timestamptz NULL, "rfm_recency" bigint NULL, "rfm_frequency" bigint NULL, "rfm_monetary" numeric(18,4) NULL, "rfm_recency_score" bigint NULL, "rfm_frequency_score" bigint NULL, "rfm_monetary_score" bigint NULL, "rfm_score" character varying NULL, "rfm_label" character varying NULL, "rfm_computed_at" timestamptz NULL, "merged_into_id" uuid NULL, PRIMARY KEY ("id"), CONSTRAINT "customers_customers_merged_from" FOREIGN KEY ("merged_into_id") REFERENCES "customers" ("id") ON UPDATE NO ACTION ON DELETE SET NULL);
-- Create index "customer_created_at" to table: "customers"
CREATE INDEX "customer_created_at" ON "customers" ("created_at") WHERE (merged_into_id IS NULL);
-- Create index "customer_email" to table: "customers"
CREATE INDEX "customer_email" ON "customers" ("email");
-- Create index "customer_last_seen_at" to table: "customers"
CREATE INDEX "customer_last_seen_at" ON "customers" ("last_seen_at");
-- Create index "customer_rfm_label" to table: "customers"
CREATE INDEX "customer_rfm_label" ON "customers" ("rfm_label") WHERE (rfm_label IS NOT NULL);
-- Create "consents" table
CREATE TABLE "consents" ("id" uuid NOT NULL, "purpose" character varying NOT NULL, "granted" boolean NOT NULL, "source" character varying NULL, "recorded_at" timestamptz NOT NULL, "proof" jsonb NULL, "customer_id" uuid NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "consents_customers_consents" FOREIGN KEY ("customer_id") REFERENCES "customers" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "consent_customer_id_purpose_recorded_at" to table: "consents"
CREATE INDEX "consent_customer_id_purpose_recorded_at" ON "consents" ("customer_id", "purpose", "recorded_at");
-- Create "identities" table
CREATE TABLE "identities" ("id" uuid NOT NULL, "type" character varying NOT NULL, "value" character varying NOT NULL, "first_seen_at" timestamptz NOT NULL, "last_seen_at" timestamptz NOT NULL, "customer_id" uuid NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "identities_customers_identities" FOREIGN KEY ("customer_id") REFERENCES "customers" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "identity_customer_id_type" to table: "identities"
CREATE INDEX "identity_customer_id_type" ON "identities" ("customer_id", "type");
-- Create index "identity_type_value" to table: "identities"
CREATE UNIQUE INDEX "identity_type_value" ON "identities" ("type", "value");
-- Create "interactions" table
CREATE TABLE "interactions" ("id" uuid NOT NULL, "kind" character varying NOT NULL, "event" character varying NULL, "properties" jsonb NULL, "context" jsonb NULL, "occurred_at" timestamptz NOT NULL, "received_at" timestamptz NOT NULL, "message_id" character varying NOT NULL, "revenue" numeric(18,4) NULL, "source" character varying NULL, "channel" character varying NULL, "customer_id" uuid NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "interactions_customers_interactions" FOREIGN KEY ("customer_id") REFERENCES "customers" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "interaction_customer_id_event_occurred_at" to table: "interactions"
CREATE INDEX "interaction_customer_id_event_occurred_at" ON "interactions" ("customer_id", "event", "occurred_at");
-- Create index "interaction_customer_id_occurred_at" to table: "interactions"
CREATE INDEX "interaction_customer_id_occurred_at" ON "interactions" ("customer_id", "occurred_at");
-- Create index "interaction_event_occurred_at" to table: "interactions"
CREATE INDEX "interaction_event_occurred_at" ON "interactions" ("event", "occurred_at");
-- Create index "interaction_message_id" to table: "interactions"
CREATE UNIQUE INDEX "interaction_message_id" ON "interactions" ("message_id");
-- Create "segment_memberships" table
CREATE TABLE "segment_memberships" ("id" uuid NOT NULL, "entered_at" timestamptz NOT NULL, "exited_at" timestamptz NULL, "customer_id" uuid NOT NULL, "segment_id" uuid NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "segment_memberships_customers_memberships" FOREIGN KEY ("customer_id") REFERENCES "customers" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION, CONSTRAINT "segment_memberships_segments_memberships" FOREIGN KEY ("segment_id") REFERENCES "segments" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "segmentmembership_customer_id" to table: "segment_memberships"
CREATE INDEX "segmentmembership_customer_id" ON "segment_memberships" ("customer_id") WHERE (exited_at IS NULL);
-- Create index "segmentmembership_segment_id_customer_id" to table: "segment_memberships"
CREATE UNIQUE INDEX "segmentmembership_segment_id_customer_id" ON "segment_memberships" ("segment_id", "customer_id") WHERE (exited_at IS NULL);
-- Create index "segmentmembership_segment_id_entered_at" to table: "segment_memberships"
CREATE INDEX "segmentmembership_segment_id_entered_at" ON "segment_memberships" ("segment_id", "entered_at");
