-- Opens and clicks of people whose latest email_tracking consent is denied: counted per
-- campaign, kind and day only, never linked to a person. Hand-written: ent does not model this
-- table (written by internal/campaign's tracking handler, read by its stats query).
CREATE TABLE "campaign_tracking_counts" (
  "campaign_id" uuid NOT NULL,
  "kind" character varying NOT NULL,
  "machine" boolean NOT NULL,
  "day" date NOT NULL,
  "count" bigint NOT NULL DEFAULT 0,
  PRIMARY KEY ("campaign_id", "kind", "machine", "day")
);
