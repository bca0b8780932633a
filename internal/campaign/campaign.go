package campaign

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/ent"
	entcampaign "github.com/cairn-cdp/cairn/ent/campaign"
	"github.com/cairn-cdp/cairn/ent/campaignmember"
	"github.com/cairn-cdp/cairn/ent/segment"
)

// CreateInput is a new campaign; it starts as a draft without schedule.
type CreateInput struct {
	Name                 string
	SegmentID            uuid.UUID
	DestinationID        uuid.UUID
	Fields               map[string]string
	ConversionWindowDays *int
}

// UpdateInput changes a campaign; nil fields stay.
type UpdateInput struct {
	Name                 *string
	SegmentID            *uuid.UUID
	DestinationID        *uuid.UUID
	Fields               map[string]string
	ConversionWindowDays *int
}

// Create stores a draft campaign.
func Create(ctx context.Context, client *ent.Client, in CreateInput) (*ent.Campaign, error) {
	if err := checkName(in.Name); err != nil {
		return nil, err
	}
	if err := ValidateFields(in.Fields); err != nil {
		return nil, err
	}
	if err := checkRefs(ctx, client, &in.SegmentID, &in.DestinationID); err != nil {
		return nil, err
	}
	c := client.Campaign.Create().SetName(in.Name).SetSegmentID(in.SegmentID).
		SetDestinationID(in.DestinationID).SetFields(orEmpty(in.Fields))
	if in.ConversionWindowDays != nil {
		if err := checkWindow(*in.ConversionWindowDays); err != nil {
			return nil, err
		}
		c.SetConversionWindowDays(*in.ConversionWindowDays)
	}
	return c.Save(ctx)
}

// Update changes a campaign. Its destination can change only while nothing was synced to the
// old one (the snapshot describes what that destination holds).
func Update(ctx context.Context, client *ent.Client, id uuid.UUID, in UpdateInput) (*ent.Campaign, error) {
	cur, err := client.Campaign.Get(ctx, id)
	if err != nil {
		return nil, notFound(err, "campaign", id)
	}
	if err := checkRefs(ctx, client, in.SegmentID, in.DestinationID); err != nil {
		return nil, err
	}
	u := client.Campaign.UpdateOne(cur)
	if in.Name != nil {
		if err := checkName(*in.Name); err != nil {
			return nil, err
		}
		u.SetName(*in.Name)
	}
	if in.SegmentID != nil {
		u.SetSegmentID(*in.SegmentID)
	}
	if in.DestinationID != nil && *in.DestinationID != cur.DestinationID {
		held, err := client.CampaignMember.Query().
			Where(campaignmember.CampaignID(id), campaignmember.StateNEQ(campaignmember.StateRemoved)).Exist(ctx)
		if err != nil {
			return nil, fmt.Errorf("error reading campaign snapshot: %w", err)
		}
		if held {
			return nil, fmt.Errorf("%w: campaign %s has contacts at its destination; create a new campaign for another destination", ErrConflict, id)
		}
		u.SetDestinationID(*in.DestinationID)
	}
	if in.Fields != nil {
		if err := ValidateFields(in.Fields); err != nil {
			return nil, err
		}
		u.SetFields(in.Fields)
	}
	if in.ConversionWindowDays != nil {
		if err := checkWindow(*in.ConversionWindowDays); err != nil {
			return nil, err
		}
		u.SetConversionWindowDays(*in.ConversionWindowDays)
	}
	return u.Save(ctx)
}

// SetSchedule validates s and makes the campaign scheduled, due at its first run after now.
func SetSchedule(ctx context.Context, client *ent.Client, id uuid.UUID, s Schedule, now time.Time) (*ent.Campaign, error) {
	next, err := s.NextRun(now)
	if err != nil {
		return nil, err
	}
	cur, err := client.Campaign.Get(ctx, id)
	if err != nil {
		return nil, notFound(err, "campaign", id)
	}
	u := client.Campaign.UpdateOne(cur).SetNextRunAt(next).SetStatus(entcampaign.StatusScheduled)
	if s.At != nil {
		u.SetScheduleKind(entcampaign.ScheduleKindAt).SetScheduleAt(*s.At).ClearScheduleCron().ClearScheduleTimezone()
	} else {
		u.SetScheduleKind(entcampaign.ScheduleKindCron).ClearScheduleAt().SetScheduleCron(s.Cron)
		tz := s.TimeZone
		if tz == "" {
			tz = "UTC"
		}
		u.SetScheduleTimezone(tz)
	}
	return u.Save(ctx)
}

// Pause stops a scheduled campaign's runs (scheduled and delta); pausing a paused campaign is
// a no-op.
func Pause(ctx context.Context, client *ent.Client, id uuid.UUID) (*ent.Campaign, error) {
	cur, err := client.Campaign.Get(ctx, id)
	if err != nil {
		return nil, notFound(err, "campaign", id)
	}
	switch cur.Status {
	case entcampaign.StatusPaused:
		return cur, nil
	case entcampaign.StatusScheduled:
		return client.Campaign.UpdateOne(cur).SetStatus(entcampaign.StatusPaused).Save(ctx)
	default:
		return nil, fmt.Errorf("%w: only a scheduled campaign can be paused (campaign %s is %s)", ErrConflict, id, cur.Status)
	}
}

// Resume schedules a paused campaign again. A cron campaign resumes at its next slot after
// now (slots missed while paused are not run); an at campaign whose time passed runs at once.
func Resume(ctx context.Context, client *ent.Client, id uuid.UUID, now time.Time) (*ent.Campaign, error) {
	cur, err := client.Campaign.Get(ctx, id)
	if err != nil {
		return nil, notFound(err, "campaign", id)
	}
	switch cur.Status {
	case entcampaign.StatusScheduled:
		return cur, nil
	case entcampaign.StatusPaused:
	default:
		return nil, fmt.Errorf("%w: only a paused campaign can be resumed (campaign %s is %s)", ErrConflict, id, cur.Status)
	}
	u := client.Campaign.UpdateOne(cur).SetStatus(entcampaign.StatusScheduled)
	switch {
	case cur.ScheduleKind != nil && *cur.ScheduleKind == entcampaign.ScheduleKindCron && cur.ScheduleCron != nil:
		c, err := ParseCron(*cur.ScheduleCron, deref(cur.ScheduleTimezone))
		if err != nil {
			return nil, err
		}
		u.SetNextRunAt(c.Next(now))
	case cur.ScheduleAt != nil && cur.NextRunAt == nil:
		// Its slot was handed out while paused, and the run skipped: run it now.
		u.SetNextRunAt(*cur.ScheduleAt)
	}
	return u.Save(ctx)
}

func checkRefs(ctx context.Context, client *ent.Client, segmentID, destinationID *uuid.UUID) error {
	if segmentID != nil {
		if ok, err := client.Segment.Query().Where(segment.ID(*segmentID)).Exist(ctx); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("%w: segment %s", ErrNotFound, *segmentID)
		}
	}
	if destinationID != nil {
		if _, err := client.Destination.Get(ctx, *destinationID); err != nil {
			return notFound(err, "destination", *destinationID)
		}
	}
	return nil
}

func checkWindow(days int) error {
	if days < 1 || days > 365 {
		return fmt.Errorf("%w: conversionWindowDays must be 1 to 365", ErrInvalidInput)
	}
	return nil
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
