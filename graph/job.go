package graph

import (
	"encoding/binary"
	"fmt"

	"github.com/google/uuid"
	"github.com/riverqueue/river/rivertype"

	"github.com/cairn-cdp/cairn/graph/model"
)

// River job ids are int64s, while every GraphQL ID here is a UUID. A job's ID is a UUID whose
// first eight bytes spell "cairnjob" and whose last eight hold the River id, so it stays opaque
// and round-trips through job(id).
var jobIDMagic = [8]byte{'c', 'a', 'i', 'r', 'n', 'j', 'o', 'b'}

// JobID encodes a River job id as a GraphQL ID.
func JobID(id int64) uuid.UUID {
	var u uuid.UUID
	copy(u[:8], jobIDMagic[:])
	binary.BigEndian.PutUint64(u[8:], uint64(id))
	return u
}

func riverJobID(u uuid.UUID) (int64, error) {
	if [8]byte(u[:8]) != jobIDMagic {
		return 0, fmt.Errorf("%s is not a job id", u)
	}
	return int64(binary.BigEndian.Uint64(u[8:])), nil
}

// JobFromRow converts a River job row to its GraphQL model.
func JobFromRow(j *rivertype.JobRow) *model.Job {
	errs := make([]string, 0, len(j.Errors))
	for _, e := range j.Errors {
		errs = append(errs, e.Error)
	}
	return &model.Job{
		ID:          JobID(j.ID),
		Kind:        j.Kind,
		State:       string(j.State),
		Attempt:     j.Attempt,
		MaxAttempts: j.MaxAttempts,
		Errors:      errs,
		CreatedAt:   j.CreatedAt,
		ScheduledAt: j.ScheduledAt,
		FinalizedAt: j.FinalizedAt,
	}
}
