package secret_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cairn-cdp/cairn/internal/secret"
)

const testKey = "0123456789abcdef0123456789abcdef-test-key"

func newBox(t *testing.T, key string) *secret.Box {
	t.Helper()
	b, err := secret.New(key)
	require.NoError(t, err)
	return b
}

func TestNewRejectsShortKey(t *testing.T) {
	t.Parallel()
	_, err := secret.New("short")
	require.ErrorContains(t, err, secret.EnvKey)
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	box := newBox(t, testKey)

	sealed, err := box.Seal([]byte("md-apikey-us6"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(sealed, "v1:"))
	require.NotContains(t, sealed, "apikey")

	again, err := box.Seal([]byte("md-apikey-us6"))
	require.NoError(t, err)
	require.NotEqual(t, sealed, again, "a fresh nonce per seal")

	pt, err := box.Open(sealed)
	require.NoError(t, err)
	require.Equal(t, "md-apikey-us6", string(pt))

	empty, err := box.Seal(nil)
	require.NoError(t, err)
	pt, err = box.Open(empty)
	require.NoError(t, err)
	require.Empty(t, pt)
}

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	box := newBox(t, testKey)
	sealed, err := box.Seal([]byte("secret value"))
	require.NoError(t, err)
	bound, err := box.SealWith([]byte("secret value"), []byte("destination/1/apiKey"))
	require.NoError(t, err)

	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	cases := []struct {
		name   string
		box    *secret.Box
		sealed string
		ad     []byte
		want   error
	}{
		{name: "tampered ciphertext", box: box, sealed: flip(sealed, len(sealed)-5), want: secret.ErrOpen},
		{name: "tampered nonce", box: box, sealed: flip(sealed, 4), want: secret.ErrOpen},
		{name: "other key", box: newBox(t, testKey+"-other"), sealed: sealed, want: secret.ErrOpen},
		{name: "unknown version", box: box, sealed: "v2:" + strings.TrimPrefix(sealed, "v1:"), want: secret.ErrMalformed},
		{name: "truncated", box: box, sealed: sealed[:10], want: secret.ErrMalformed},
		{name: "not base64", box: box, sealed: "v1:!!!!", want: secret.ErrMalformed},
		{name: "wrong associated data", box: box, sealed: bound, ad: []byte("destination/2/apiKey"), want: secret.ErrOpen},
		{name: "associated data missing", box: box, sealed: bound, want: secret.ErrOpen},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := tc.box.OpenWith(tc.sealed, tc.ad)
			require.ErrorIs(t, err, tc.want)
			require.NotContains(t, err.Error(), "secret value")
		})
	}

	pt, err := box.OpenWith(bound, []byte("destination/1/apiKey"))
	require.NoError(t, err)
	require.Equal(t, "secret value", string(pt))
}

func TestMask(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, in, want string }{
		{"empty", "", ""},
		{"short", "abcd1234", "…"},
		{"api key", "0123456789abcdef-us6", "…-us6"},
		{"unicode", "ééééééééééa1b2", "…a1b2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, secret.Mask(tc.in))
		})
	}
}

func TestSignVerify(t *testing.T) {
	t.Parallel()
	box := newBox(t, testKey)
	token := box.Sign("track", []byte(`{"c":"camp1","u":"cust9"}`))

	got, err := box.Verify("track", token)
	require.NoError(t, err)
	require.Equal(t, `{"c":"camp1","u":"cust9"}`, string(got))

	p, s, _ := strings.Cut(token, ".")
	other := box.Sign("track", []byte(`{"c":"camp2","u":"cust9"}`))
	op, _, _ := strings.Cut(other, ".")
	cases := []struct {
		name, purpose, token string
		box                  *secret.Box
	}{
		{"other purpose", "preferences", token, box},
		{"other key", "track", token, newBox(t, testKey+"-other")},
		{"payload swapped", "track", op + "." + s, box},
		{"truncated signature", "track", p + "." + s[:len(s)-2], box},
		{"no signature", "track", p, box},
		{"not base64", "track", "***." + s, box},
		{"empty", "track", "", box},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := tc.box.Verify(tc.purpose, tc.token)
			require.ErrorIs(t, err, secret.ErrToken)
		})
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(secret.EnvKey, "")
	_, err := secret.FromEnv()
	require.ErrorContains(t, err, "not set")

	t.Setenv(secret.EnvKey, testKey)
	box, err := secret.FromEnv()
	require.NoError(t, err)
	sealed, err := box.Seal([]byte("x"))
	require.NoError(t, err)
	pt, err := newBox(t, testKey).Open(sealed)
	require.NoError(t, err)
	require.Equal(t, "x", string(pt))
}
