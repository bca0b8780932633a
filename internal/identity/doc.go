// Package identity owns who a customer is: it turns the identifiers seen on events (anonymousId,
// userId, email, phone, device id, external ids) into one customer profile per person. It owns
// the identities table, the creation of customers and the ingest-time writes of their profile
// (traits, email, phone, seen times), and merges: a merge moves a profile's identities,
// interactions, consents and segment memberships to its survivor. Its audit events
// (customer.merge, identity.conflict) are written through package audit.
//
// It normalises identifier values, refuses junk values, and resolves a whole batch of messages
// set-based inside the caller's transaction: known identifiers find their customer, unknown ones
// create or join one, and a message that links several customers merges them into the oldest.
// Guards keep profiles correct: at most one user_id per profile and a per-type limit on
// identifiers, a link that would break them is refused and recorded as an `identity.conflict`
// audit event instead.
//
// A batch goes through phases, one file each: plan.go (Resolve: look up and read, no row lock,
// decide each message's customer, merges and new identifiers), lock.go (lock every customer used
// and re-check what planning read), flush.go (Flush and Finish: merges, new profiles and
// identities, profile updates; traits.go merges traits), commit.go (Committed: hand the
// committed resolutions to the cache, cache.go). batch.go holds the planning state, merge.go the
// operator's Merge, and queries.sql the named statements with their plans and costs; PLANS.md
// keeps their measurement history.
//
// Concurrency: Flush first locks every existing customer the batch uses, in one statement in id
// order (so concurrent batches wait on each other but do not deadlock with each other on
// customers): FOR KEY SHARE those it only adds events to (concurrent batches share it), FOR NO KEY
// UPDATE those whose row it rewrites (traits, seen times), FOR UPDATE those whose identities change
// (merges, new identifiers), and re-checks what it planned with; new identifiers are claimed with
// INSERT … ON CONFLICT DO NOTHING on the unique (type, value) index; and before commit a batch
// checks that no profile it used was merged away. A transaction that loses any of these races gets
// ErrConcurrentChange and is retried whole by its caller, so two concurrent messages about the same
// new identifier never create two profiles, and no event lands on a merged-away one.
package identity
