// Package secret seals values Cairn must store but never show (destination API keys, webhook
// secrets) and signs short tokens (tracking and preference links), all with keys derived from
// CAIRN_SECRET_KEY. Sealed values are "v1:" + base64url(nonce | AES-256-GCM ciphertext); the
// version names the derivation and layout, so a later format can be read beside this one.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// EnvKey is the environment variable holding the master key.
const EnvKey = "CAIRN_SECRET_KEY"

// MinKeyLength is the shortest master key accepted, in bytes.
const MinKeyLength = 32

const sealPrefix = "v1:"

// Errors from Open and Verify. They never include the value.
var (
	ErrMalformed = errors.New("secret: malformed sealed value")
	ErrOpen      = errors.New("secret: cannot open sealed value (wrong key or altered)")
	ErrToken     = errors.New("secret: token invalid or altered")
)

// Box seals, opens and signs with keys derived from one master key. It is safe for concurrent use.
type Box struct {
	aead    cipher.AEAD
	signKey []byte
}

// New derives the sealing and signing keys from master (at least 32 bytes; for instance 64 hex
// characters from `openssl rand -hex 32`) with HKDF-SHA256, one label per use.
func New(master string) (*Box, error) {
	if len(master) < MinKeyLength {
		return nil, fmt.Errorf("secret: %s must be at least %d characters (e.g. openssl rand -hex 32)", EnvKey, MinKeyLength)
	}
	sealKey, err := hkdf.Key(sha256.New, []byte(master), nil, "cairn/secret/seal/v1", 32)
	if err != nil {
		return nil, fmt.Errorf("secret: deriving sealing key: %w", err)
	}
	signKey, err := hkdf.Key(sha256.New, []byte(master), nil, "cairn/secret/sign/v1", 32)
	if err != nil {
		return nil, fmt.Errorf("secret: deriving signing key: %w", err)
	}
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	return &Box{aead: aead, signKey: signKey}, nil
}

// FromEnv is New(os.Getenv(CAIRN_SECRET_KEY)), with an error naming the variable when unset.
func FromEnv() (*Box, error) {
	v := os.Getenv(EnvKey)
	if v == "" {
		return nil, fmt.Errorf("secret: %s is not set", EnvKey)
	}
	return New(v)
}

// Seal encrypts plaintext with a fresh random nonce.
func (b *Box) Seal(plaintext []byte) (string, error) { return b.SealWith(plaintext, nil) }

// Open decrypts a value made by Seal.
func (b *Box) Open(sealed string) ([]byte, error) { return b.OpenWith(sealed, nil) }

// SealWith binds the ciphertext to ad (e.g. the destination id and field name), so a sealed
// value copied to another row does not open there.
func (b *Box) SealWith(plaintext, ad []byte) (string, error) {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plaintext)+b.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("secret: reading nonce: %w", err)
	}
	out := b.aead.Seal(nonce, nonce, plaintext, ad)
	return sealPrefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// OpenWith decrypts a value made by SealWith with the same ad.
func (b *Box) OpenWith(sealed string, ad []byte) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, sealPrefix)
	if !ok {
		return nil, ErrMalformed
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(raw) < b.aead.NonceSize()+b.aead.Overhead() {
		return nil, ErrMalformed
	}
	n := b.aead.NonceSize()
	pt, err := b.aead.Open(nil, raw[:n], raw[n:], ad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// Mask returns a hint safe to show: "…" and the last four characters, or just "…" for values of
// eight characters or fewer (showing four of those would give too much away). "" stays "".
func Mask(secret string) string {
	if secret == "" {
		return ""
	}
	r := []rune(secret)
	if len(r) <= 8 {
		return "…"
	}
	return "…" + string(r[len(r)-4:])
}

// Sign returns base64url(payload) + "." + base64url(HMAC-SHA256(purpose, payload)). The purpose
// (e.g. "track", "preferences") is signed too, so a token made for one use fails for another.
func (b *Box) Sign(purpose string, payload []byte) string {
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(b.mac(purpose, payload))
}

// Verify checks a token made by Sign for the same purpose and returns its payload.
func (b *Box) Verify(purpose, token string) ([]byte, error) {
	p, s, ok := strings.Cut(token, ".")
	if !ok {
		return nil, ErrToken
	}
	payload, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return nil, ErrToken
	}
	sig, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || !hmac.Equal(sig, b.mac(purpose, payload)) {
		return nil, ErrToken
	}
	return payload, nil
}

// MAC returns HMAC-SHA256 of data under the signing key and purpose, for keyed hashes (e.g.
// suppression-list entries) that must match across runs without storing the value.
func (b *Box) MAC(purpose string, data []byte) []byte { return b.mac(purpose, data) }

func (b *Box) mac(purpose string, payload []byte) []byte {
	m := hmac.New(sha256.New, b.signKey)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write(payload)
	return m.Sum(nil)
}
