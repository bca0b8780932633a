package campaign

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// cronParser reads the standard five fields (minute hour day-of-month month day-of-week); the
// time zone is a separate IANA name, so CRON_TZ= prefixes and @every descriptors are refused.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// Cron is a parsed cron schedule in an IANA time zone.
//
// robfig/cron evaluates a schedule on instants in the zone, which skips a slot that falls in a
// spring-forward gap and runs a slot in a fall-back hour twice. Cron instead follows Vixie
// cron: a slot with a fixed hour is a wall-clock time; when that time does not exist it runs
// once at the transition (right after the gap), and when it exists twice it runs once, at the
// first occurrence. A schedule whose hour field is a wildcard ("*/15 * * * *") runs on elapsed
// time, as robfig computes it.
type Cron struct {
	spec  cron.Schedule
	loc   *time.Location
	civil bool
}

// ParseCron parses spec (five fields) in the IANA zone tz (empty means UTC).
func ParseCron(spec, tz string) (*Cron, error) {
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "CRON_TZ=") || strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "@") {
		return nil, fmt.Errorf("%w: cron: give five fields and the time zone separately", ErrInvalidInput)
	}
	s, err := cronParser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("%w: cron %q: %v", ErrInvalidInput, spec, err)
	}
	loc := time.UTC
	if tz != "" {
		if loc, err = time.LoadLocation(tz); err != nil || tz == "Local" {
			return nil, fmt.Errorf("%w: timeZone %q is not an IANA time zone name", ErrInvalidInput, tz)
		}
	}
	hour := strings.Fields(spec)[1]
	return &Cron{spec: s, loc: loc, civil: !strings.HasPrefix(hour, "*")}, nil
}

// Next returns the first slot strictly after from.
func (c *Cron) Next(from time.Time) time.Time {
	if !c.civil {
		return c.spec.Next(from.In(c.loc))
	}
	wall := asWall(from.In(c.loc))
	// A bounded walk: each step advances wall time, and any slot maps to an instant within a
	// day of it; a spec that never matches (30 February) yields the zero time, as robfig does.
	for range 1000 {
		wall = c.spec.Next(wall)
		if wall.IsZero() {
			return time.Time{}
		}
		if t, ok := c.instant(wall, from); ok {
			return t
		}
	}
	return time.Time{}
}

// instant maps wall-clock time w (in UTC fields) to the earliest instant in c.loc after from
// whose wall clock reads w, or to the end of the gap when w does not exist in c.loc.
func (c *Cron) instant(w, from time.Time) (time.Time, bool) {
	var best time.Time
	gap := true
	for _, probe := range []time.Time{w.Add(-26 * time.Hour), w, w.Add(26 * time.Hour)} {
		_, off := probe.In(c.loc).Zone()
		t := w.Add(-time.Duration(off) * time.Second)
		if !asWall(t.In(c.loc)).Equal(w) {
			continue
		}
		gap = false
		if t.After(from) && (best.IsZero() || t.Before(best)) {
			best = t
		}
	}
	if !gap {
		return best, !best.IsZero()
	}
	// w falls in a gap: the zone in effect just after it starts at the transition.
	_, offBefore := w.Add(-26 * time.Hour).In(c.loc).Zone()
	after := w.Add(-time.Duration(offBefore) * time.Second).In(c.loc)
	start, _ := after.ZoneBounds()
	if start.IsZero() || !start.After(from) {
		return time.Time{}, false
	}
	return start, true
}

// asWall returns t's wall-clock reading as a UTC time, so that cron fields match it without
// any zone rules.
func asWall(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// Schedule is when a campaign runs: once At, or on Cron in TimeZone. Exactly one of At and
// Cron is set.
type Schedule struct {
	At       *time.Time
	Cron     string
	TimeZone string
}

// NextRun validates s and returns its first run after now: At itself (which must lie ahead),
// or the cron's next slot.
func (s Schedule) NextRun(now time.Time) (time.Time, error) {
	switch {
	case s.At != nil && s.Cron != "":
		return time.Time{}, fmt.Errorf("%w: schedule: set either at or cron, not both", ErrInvalidInput)
	case s.At != nil:
		if s.TimeZone != "" {
			return time.Time{}, fmt.Errorf("%w: schedule: timeZone goes with cron; at is an absolute time", ErrInvalidInput)
		}
		if !s.At.After(now) {
			return time.Time{}, fmt.Errorf("%w: schedule: at %s is in the past", ErrInvalidInput, s.At.Format(time.RFC3339))
		}
		return *s.At, nil
	case s.Cron != "":
		c, err := ParseCron(s.Cron, s.TimeZone)
		if err != nil {
			return time.Time{}, err
		}
		next := c.Next(now)
		if next.IsZero() {
			return time.Time{}, fmt.Errorf("%w: cron %q never runs", ErrInvalidInput, s.Cron)
		}
		return next, nil
	default:
		return time.Time{}, fmt.Errorf("%w: schedule: set at or cron", ErrInvalidInput)
	}
}
