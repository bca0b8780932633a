-- Modify "campaign_syncs" table
ALTER TABLE "campaign_syncs" ADD COLUMN "updated" bigint NOT NULL DEFAULT 0, ADD COLUMN "skipped_no_email" bigint NOT NULL DEFAULT 0, ADD COLUMN "skipped_no_consent" bigint NOT NULL DEFAULT 0, ADD COLUMN "slot" timestamptz NULL, ADD COLUMN "job_id" bigint NULL;
-- Create index "campaignsync_campaign_id" to table: "campaign_syncs"
CREATE UNIQUE INDEX "campaignsync_campaign_id" ON "campaign_syncs" ("campaign_id") WHERE ((status)::text = 'running'::text);
-- Modify "campaigns" table
ALTER TABLE "campaigns" ADD COLUMN "fields" jsonb NULL, ADD COLUMN "conversion_window_days" bigint NOT NULL DEFAULT 7;
-- Create index "campaign_next_run_at" to table: "campaigns"
CREATE INDEX "campaign_next_run_at" ON "campaigns" ("next_run_at") WHERE ((status)::text = 'scheduled'::text);
-- Modify "destinations" table
ALTER TABLE "destinations" ADD COLUMN "enabled" boolean NOT NULL DEFAULT true;
-- Create "campaign_members" table
CREATE TABLE "campaign_members" ("id" uuid NOT NULL, "customer_id" uuid NOT NULL, "email" character varying NOT NULL, "payload_hash" character varying NOT NULL DEFAULT '', "state" character varying NOT NULL, "last_error" character varying NULL, "last_sync_id" uuid NULL, "updated_at" timestamptz NOT NULL, "campaign_id" uuid NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "campaign_members_campaigns_members" FOREIGN KEY ("campaign_id") REFERENCES "campaigns" ("id") ON UPDATE NO ACTION ON DELETE NO ACTION);
-- Create index "campaignmember_campaign_id_customer_id" to table: "campaign_members"
CREATE UNIQUE INDEX "campaignmember_campaign_id_customer_id" ON "campaign_members" ("campaign_id", "customer_id");
