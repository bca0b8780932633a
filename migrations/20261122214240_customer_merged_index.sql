-- Drop index "customer_rfm_label" from table: "customers"
DROP INDEX "customer_rfm_label";
-- Create index "customer_merged_into_id" to table: "customers"
CREATE INDEX "customer_merged_into_id" ON "customers" ("merged_into_id") WHERE (merged_into_id IS NOT NULL);
