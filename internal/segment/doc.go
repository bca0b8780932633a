// Package segment owns audiences: the segments table and segment_memberships (who is in a
// segment, and since when), and everything that computes them: the rule language
// (SegmentRuleInput as Go types and as the JSON stored in segments.rule), its validation, a
// human-readable rendering, the compiler from a rule tree to ONE parameterised SQL query over
// customers, live previews, the full computation
// of a segment's membership diff, the incremental re-evaluation of dirty customers, and which
// segments are due for a computation. It declares the Scheduler that jobs/ implements; it
// never imports jobs or River.
//
// # Files and data access
//
// definition.go (create, update, delete, rule references), preview.go, compute.go,
// incremental.go (the drain), history.go and due.go each hold one concern; service.go holds
// the Service and its transaction settings. The segments row itself is read and written through
// ent; every other statement is a named query in queries.sql (parsed at start-up), with its plan
// and cost.
//
// # Rule semantics
//
// A rule node sets exactly one of and, or, not, trait, event, rfm, consent, identity,
// inSegment. Limits: depth ≤ 10 (the root is level 1), ≤ 100 conditions (leaves), ≤ 1000 IN
// values. Merged-away customers (merged_into_id set) never match.
//
// trait {key, op, value}: key is a dotted path into traits ("address.city" is traits →
// address → city; a segment that is a non-negative integer indexes a JSON array). The
// comparison type is chosen by the rule's value, and the trait must have that type, or the
// condition does not match:
//   - a number compares numerically with a JSON number (exact decimals; "42" the string is
//     not 42);
//   - a string in ISO 8601 form (2024-05-01, 2024-05-01T10:00, 2024-05-01T10:00:00.5+02:00;
//     no zone = UTC; a date alone = UTC midnight) compares as a timestamp with a trait string
//     of that same form; impossible dates (2023-02-29) are not dates;
//   - any other string compares as text, case-insensitively (ICU lower-casing, the same on
//     every database locale) for EQ, NEQ, CONTAINS, STARTS_WITH and IN;
//   - a boolean compares with a JSON boolean (EQ, NEQ).
//
// A missing key, JSON null or a value of another type never matches EQ, NEQ, GT, GTE, LT, LTE,
// CONTAINS, STARTS_WITH or IN. In particular NEQ on a missing key does NOT match: NEQ means
// "has a value of that type, and it differs". Use not + EQ for "anything but", which includes
// customers without the trait. EXISTS is "present and not null"; NOT_EXISTS is its negation.
// GT/GTE/LT/LTE take a number or an ISO date; CONTAINS/STARTS_WITH a non-empty string; IN a
// list of strings, numbers and booleans, each compared by its own type (strings in IN compare
// as text, never as dates); EXISTS/NOT_EXISTS no value.
//
// event {name, withinDays, count, where}: the events with that name, occurred within the last
// withinDays days (occurred_at ≥ now − withinDays×24h; all time when absent), whose properties
// satisfy every where condition (same typed semantics as traits, on interactions.properties).
// Without count: at least one such event. With count {op, value}: the number of such events,
// zero included, compared with value — so count EQ 0, LT 3, LTE 2 also match customers with no
// events at all. not + event = "did not perform".
//
// rfm {label, recencyScore, frequencyScore, monetaryScore}: every field set must hold on the
// columns the ComputeRFM job writes (rfm_label; rfm_*_score within the inclusive range).
// Customers without RFM never match.
//
// consent {purpose, granted}: the customer's latest consent row for purpose (by recorded_at,
// then id) has that granted value. A customer with no row for the purpose matches neither
// granted: true nor granted: false; use not + {granted: true} for "not granted".
//
// identity {type, exists}: the customer has (exists: true) or has no (false) identity of type.
//
// inSegment: the customer currently has an open membership (exited_at IS NULL) in that
// segment. References must exist and may not form a cycle (checked when saving).
//
// # SQL
//
// Compile builds
//
//	SELECT c.id FROM customers c [JOIN <driver's event aggregate> e0] [LEFT JOIN <event count aggregate> eN ...]
//	WHERE c.merged_into_id IS NULL AND <boolean expression>
//
// Values and keys are always parameters: key paths are text[] parameters of #> / #>>; typed
// comparisons are CASE WHEN jsonb_typeof(...) = '<type>' THEN ... END, so a cast never runs on
// a value of another type. Conditions may yield NULL where they do not match; NOT coalesces its
// operand to false first, so NULL never turns into a match. Events "at least once" are
// correlated EXISTS on interactions (customer_id, event, occurred_at); counts are LEFT JOINs to
// per-customer aggregates of the window. The exception is the driver (compile.go pickDriver): a
// top-level conjunct event condition that no zero-event customer meets is inner-joined, and
// with JoinFirst its events are joined to the customers passing the rule's row-level conjuncts
// before they are counted. Consent is a correlated backward scan of
// consents (customer_id, purpose, recorded_at). See PLANS.md for measured plans.
//
// # Computation
//
// Service.Compute writes a segment's membership diff in one transaction (queries.sql
// want-full and diff-full) under a row lock on the segment, updates member_count, last_computed_at and
// status, and schedules campaign syncs and dependent segments through Scheduler in the same
// transaction. Service.Drain re-evaluates every segment for a batch of customers taken from
// segment_dirty_customers (which ingest fills while any segment exists, and ComputeRFM for the
// customers whose RFM it rewrote while some segment uses an rfm condition), applying entries
// and exits for just them. Creating a segment or changing its rule waits for ingest and RFM
// transactions in flight (an advisory lock; see migration segment_queue_barrier), so one that
// queued nothing because no segment needed it has committed before the segment's next
// computation reads. While it waits, PostgreSQL queues later holders behind it: ingest groups
// pause until the transactions ahead end, at most one RFM batch (~0.4-0.8 s) when RFM runs.
// Time-window expiry (an event leaving "the last 30 days") is picked up by the periodic full
// computation, not by Drain.
package segment
