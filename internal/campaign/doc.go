// Package campaign syncs segments to email providers: destinations (provider connections whose
// secrets are sealed at rest), campaigns and their schedules, and the sync engine that diffs a
// campaign's audience against its snapshot of what the destination holds and sends the
// difference.
package campaign
