package graph

import (
	"encoding/binary"
	"fmt"

	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/internal/queue"

	"github.com/cairn-cdp/cairn/graph/model"
)

// Job ids are int64s, while every GraphQL ID here is a UUID. A job's ID is a UUID whose
// first eight bytes spell "cairnjob" and whose last eight hold the job id, so it stays opaque
// and round-trips through job(id).
var jobIDMagic = [8]byte{'c', 'a', 'i', 'r', 'n', 'j', 'o', 'b'}

// JobID encodes a job id as a GraphQL ID.
func JobID(id int64) uuid.UUID {
	var u uuid.UUID
	copy(u[:8], jobIDMagic[:])
	binary.BigEndian.PutUint64(u[8:], uint64(id))
	return u
}

func jobIDFromUUID(u uuid.UUID) (int64, error) {
	if [8]byte(u[:8]) != jobIDMagic {
		return 0, fmt.Errorf("%s is not a job id", u)
	}
	return int64(binary.BigEndian.Uint64(u[8:])), nil
}

// JobFromRow converts a queued job to its GraphQL model.
func JobFromRow(j *queue.Job) *model.Job {
	return &model.Job{
		ID:          JobID(j.ID),
		Kind:        j.Kind,
		State:       j.State,
		Attempt:     j.Attempt,
		MaxAttempts: j.MaxAttempts,
		Errors:      j.Errors,
		CreatedAt:   j.CreatedAt,
		ScheduledAt: j.ScheduledAt,
		FinalizedAt: j.FinalizedAt,
	}
}
