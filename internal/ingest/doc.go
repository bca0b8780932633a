// Package ingest is Cairn's Segment-compatible tracking API and the write path behind it. It
// owns:
//
//   - the HTTP API (NewHandler, handler.go): POST /v1/<type>, /v1/batch and /v1/import (a
//     batch's invalid messages dropped alone and listed: dropped.go), GET /v1/pixel/<type>
//     (pixel.go), write-key authentication, CORS, the client's address (clientip.go), and the
//     mapping of errors to status codes;
//   - normalisation (prepare.go, and a file per phase: context.go, consent.go, identifiers.go,
//     geo.go, minimise.go, properties.go): turning a wire.Message into the row it is stored as,
//     with clock-skew correction, geolocation, IP truncation, consent decisions and revenue;
//   - the group-commit writer (Pipeline): requests from many concurrent clients are gathered
//     into shared transactions (gather.go) that resolve identities (package identity), record
//     consents and COPY interactions (commit.go, rows.go), retried when they lose races
//     (retry.go) and kept from claiming the same new identifiers at once (claims.go). A request
//     is acknowledged only once its own messages are committed.
//
// The wire format (the Message type, decoding and validation) is package wire. `cairn import`
// calls Pipeline.Submit directly. What was measured and tried is in PLANS.md.
package ingest
