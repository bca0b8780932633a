-- Create index "campaignmember_customer_id" to table: "campaign_members"
CREATE INDEX "campaignmember_customer_id" ON "campaign_members" ("customer_id");
