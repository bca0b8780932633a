package campaign

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestCronNextAcrossDST(t *testing.T) {
	t.Parallel()
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return v
	}
	tests := []struct {
		name, spec, tz, from string
		want                 []string // successive slots, UTC
	}{
		{
			name: "new york 9am across spring forward", spec: "0 9 * * *", tz: "America/New_York",
			from: "2026-03-06T15:00:00Z",
			want: []string{"2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z", "2026-03-09T13:00:00Z"},
		},
		{
			name: "new york 9am across fall back", spec: "0 9 * * *", tz: "America/New_York",
			from: "2026-10-31T00:00:00Z",
			want: []string{"2026-10-31T13:00:00Z", "2026-11-01T14:00:00Z", "2026-11-02T14:00:00Z"},
		},
		{
			// 01:30 does not exist on 29 March (01:00 GMT -> 02:00 BST): it runs once, at the
			// transition (01:00 UTC), and the next day at 01:30 BST.
			name: "london 1:30 in the spring-forward gap", spec: "30 1 * * *", tz: "Europe/London",
			from: "2026-03-27T12:00:00Z",
			want: []string{"2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"},
		},
		{
			// 01:30 happens twice on 25 October (02:00 BST -> 01:00 GMT): it runs once, at the
			// first (BST) occurrence.
			name: "london 1:30 in the fall-back hour", spec: "30 1 * * *", tz: "Europe/London",
			from: "2026-10-23T12:00:00Z",
			want: []string{"2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
		},
		{
			// Scheduled during the repeated hour after its first occurrence: the second one is
			// still ahead, and is the one that runs.
			name: "london 1:30 scheduled inside the repeated hour", spec: "30 1 * * *", tz: "Europe/London",
			from: "2026-10-25T01:10:00Z",
			want: []string{"2026-10-25T01:30:00Z", "2026-10-26T01:30:00Z"},
		},
		{
			name: "wildcard hours run on elapsed time through fall back", spec: "0 * * * *", tz: "Europe/London",
			from: "2026-10-24T23:30:00Z",
			want: []string{"2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"},
		},
		{
			name: "utc by default", spec: "15 6 * * 1", tz: "",
			from: "2026-12-04T00:00:00Z",
			want: []string{"2026-12-07T06:15:00Z", "2026-12-14T06:15:00Z"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := ParseCron(tc.spec, tc.tz)
			require.NoError(t, err)
			at := utc(tc.from)
			for _, w := range tc.want {
				at = c.Next(at)
				require.Equal(t, utc(w), at.UTC(), "after %s", at)
			}
		})
	}
}

func TestParseCronRejects(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, spec, tz string }{
		{"six fields", "0 0 9 * * *", "UTC"},
		{"tz prefix", "CRON_TZ=Europe/London 0 9 * * *", ""},
		{"descriptor", "@every 1m", ""},
		{"unknown zone", "0 9 * * *", "Mars/Olympus"},
		{"local zone", "0 9 * * *", "Local"},
		{"garbage", "every day", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseCron(tc.spec, tc.tz)
			require.ErrorIs(t, err, ErrInvalidInput)
		})
	}
}

func TestScheduleNextRun(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	later := now.Add(time.Hour)
	past := now.Add(-time.Hour)
	tests := []struct {
		name    string
		s       Schedule
		want    time.Time
		wantErr bool
	}{
		{name: "at", s: Schedule{At: &later}, want: later},
		{name: "at in the past", s: Schedule{At: &past}, wantErr: true},
		{name: "both", s: Schedule{At: &later, Cron: "0 9 * * *"}, wantErr: true},
		{name: "neither", s: Schedule{}, wantErr: true},
		{name: "cron", s: Schedule{Cron: "0 9 * * *", TimeZone: "Europe/Paris"}, want: time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)},
		{name: "never", s: Schedule{Cron: "0 9 30 2 *"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := tc.s.NextRun(now)
			if tc.wantErr {
				require.ErrorIs(t, err, ErrInvalidInput)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got.UTC())
		})
	}
}
