package privacy_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/privacy"
)

func TestPreferencePage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, err := b.db.Exec(`INSERT INTO segments (id, created_at, updated_at, name, rule, refresh_every_seconds, member_count, status)
		VALUES (gen_random_uuid(), now(), now(), 'all', '{"identity":{"type":"email","exists":true}}', 3600, 0, 'ready')`)
	require.NoError(t, err)
	p := person{userID: "pref-user-1", email: "pref.one@example.org", phone: "+14155550133",
		device: "pref-device-1", anons: []string{"pref-anon-1", "pref-anon-2", "pref-anon-3"}}
	seedPerson(t, b, p)
	cust := b.customerOf(t, "user_id", p.userID)
	srv := httptest.NewServer(b.svc.Handler(nil))
	t.Cleanup(srv.Close)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	token := b.svc.PreferenceToken(cust)
	get := func(t *testing.T, path string) (int, string) {
		t.Helper()
		resp, err := noFollow.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		return resp.StatusCode, string(body)
	}

	t.Run("the page lists the purposes with their state", func(t *testing.T) {
		code, body := get(t, "/preferences/"+token)
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, "Your privacy preferences")
		require.Contains(t, body, "marketing emails")
		require.Contains(t, body, "Allowed")
		require.NotContains(t, body, "<script")
	})

	expired, err := privacy.New(privacy.Config{DB: b.db, Box: b.box, Now: func() time.Time { return time.Now().Add(-31 * 24 * time.Hour) }})
	require.NoError(t, err)
	for name, bad := range map[string]string{
		"altered": token[:len(token)-3] + "abc",
		"expired": expired.PreferenceToken(cust),
		"garbage": "x.y",
	} {
		t.Run(name+" token gets 4xx and no data", func(t *testing.T) {
			for _, path := range []string{"/preferences/", "/v1/preferences/"} {
				code, body := get(t, path+url.PathEscape(bad))
				require.Equal(t, http.StatusNotFound, code)
				require.NotContains(t, body, "marketing emails")
				require.NotContains(t, body, "granted")
			}
			resp, err := noFollow.PostForm(srv.URL+"/preferences/"+url.PathEscape(bad), url.Values{"purpose": {"analytics"}, "granted": {"false"}})
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusNotFound, resp.StatusCode)
			require.Equal(t, 0, b.count(t, `SELECT count(*) FROM consents WHERE source = 'preference_page'`))
		})
	}

	t.Run("withdrawing email marketing reaches the destinations", func(t *testing.T) {
		resp, err := noFollow.PostForm(srv.URL+"/preferences/"+token, url.Values{"purpose": {"email_marketing"}, "granted": {"false"}})
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		states, err := b.svc.ConsentStates(ctx, clientOf(b), cust)
		require.NoError(t, err)
		require.Equal(t, "email_marketing", states[0].Purpose)
		require.False(t, *states[0].Granted)
		require.Equal(t, privacy.PreferenceSource, states[0].Source)
		require.Contains(t, b.dest.withdrawn, cust)
		code, body := get(t, "/preferences/"+token+"?saved=1")
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, "Your choice was saved.")
	})

	t.Run("JSON twin", func(t *testing.T) {
		code, body := get(t, "/v1/preferences/"+token)
		require.Equal(t, http.StatusOK, code)
		var got struct {
			Purposes []struct {
				Purpose string
				Granted *bool
			}
		}
		require.NoError(t, json.Unmarshal([]byte(body), &got))
		require.Len(t, got.Purposes, len(privacy.Purposes))
		resp, err := http.Post(srv.URL+"/v1/preferences/"+token, "application/json", strings.NewReader(`{"purpose":"sms_marketing","granted":true}`))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		resp, err = http.Post(srv.URL+"/v1/preferences/"+token, "application/json", strings.NewReader(`{"purpose":"spying","granted":true}`))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	})

	t.Run("download my data works once", func(t *testing.T) {
		resp, err := noFollow.PostForm(srv.URL+"/preferences/"+token+"/export", nil)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		loc := resp.Header.Get("Location")
		require.True(t, strings.HasPrefix(loc, "/v1/exports/"))
		code, body := get(t, loc)
		require.Equal(t, http.StatusOK, code)
		require.Contains(t, body, p.email)
		code, body = get(t, loc)
		require.Equal(t, http.StatusNotFound, code)
		require.NotContains(t, body, p.email)
	})
}
