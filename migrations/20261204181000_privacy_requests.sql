-- suppressions holds only keyed hashes of the identifiers of erased people: HMAC-SHA256 of
-- "<type>\0<normalised value>" under a key derived from CAIRN_SECRET_KEY (privacy.Suppressions).
-- Ingest drops events carrying any of them until an admin lifts the entry; without the key a
-- hash proves nothing about who it was. Hand-written: ent does not model this table.
CREATE TABLE "suppressions" (
  "hash" bytea NOT NULL PRIMARY KEY,
  "identity_type" character varying NOT NULL,
  "request_id" uuid NULL,
  "created_at" timestamptz NOT NULL DEFAULT now()
);
-- privacy_export_documents holds a built export until its one download or its expiry (export
-- documents are personal data too: erasure deletes those naming an erased profile through
-- customer_ids). Hand-written: ent does not model this table.
CREATE TABLE "privacy_export_documents" (
  "request_id" uuid NOT NULL PRIMARY KEY REFERENCES "privacy_requests" ("id") ON DELETE CASCADE,
  "customer_ids" uuid[] NOT NULL,
  "document" jsonb NOT NULL,
  "expires_at" timestamptz NOT NULL,
  "created_at" timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX "privacy_export_documents_customer_ids" ON "privacy_export_documents" USING gin ("customer_ids");
CREATE INDEX "privacy_export_documents_expires_at" ON "privacy_export_documents" ("expires_at");
-- Erasure clears the identifier from other requests naming the person; only unfinished
-- requests hold one, so the index stays small however long the history grows.
CREATE INDEX "privacy_requests_identity_value" ON "privacy_requests" ("identity_value") WHERE ("identity_value" IS NOT NULL);
