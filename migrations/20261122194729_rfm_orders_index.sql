-- Create index "interaction_orders_rfm" to table: "interactions"
CREATE INDEX "interaction_orders_rfm" ON "interactions" ("customer_id", "occurred_at") INCLUDE ("revenue") WHERE ((event)::text = 'Order Completed'::text);
