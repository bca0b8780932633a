package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/cairn-cdp/cairn/ent"
	"github.com/cairn-cdp/cairn/ent/apikey"
	"github.com/cairn-cdp/cairn/internal/audit"
	"github.com/cairn-cdp/cairn/internal/txn"
)

// Secrets look like "cairn_<prefix>_<secret>": the prefix finds the row, the whole string's
// SHA-256 is compared in constant time.
const secretHead = "cairn_"

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// lastUsedEvery throttles lastUsedAt writes: at most one per key per interval, so authenticating
// a request does not cost a write.
const lastUsedEvery = time.Minute

// Keys creates, lists, revokes and authenticates API keys.
type Keys struct {
	db     *sql.DB
	client *ent.Client
	log    *slog.Logger

	mu       sync.Mutex
	lastSeen map[uuid.UUID]time.Time
	now      func() time.Time
	cache    keyCache // recent successful authentications, trusted for KeyCacheTTL
}

// NewKeys returns a key service on db.
func NewKeys(db *sql.DB, log *slog.Logger) *Keys {
	if log == nil {
		log = slog.Default()
	}
	return &Keys{db: db, client: txn.NewClient(db), log: log, lastSeen: map[uuid.UUID]time.Time{}, now: time.Now}
}

// Created is a new key with its secret, which is never retrievable again.
type Created struct {
	Key    *ent.APIKey
	Secret string
}

// Create makes a key with the given name and scopes and records an audit event.
func (k *Keys) Create(ctx context.Context, name string, scopes []Scope) (*Created, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, fmt.Errorf("%w: name must not be empty", ErrInvalidInput)
	}
	if len(name) > 200 {
		return nil, fmt.Errorf("%w: name is longer than 200 characters", ErrInvalidInput)
	}
	if len(scopes) == 0 {
		return nil, fmt.Errorf("%w: at least one scope is required", ErrInvalidInput)
	}
	prefix, err := randomToken(8)
	if err != nil {
		return nil, err
	}
	secretPart, err := randomToken(32)
	if err != nil {
		return nil, err
	}
	secret := secretHead + prefix + "_" + secretPart
	hash := sha256.Sum256([]byte(secret))
	names := make([]string, len(scopes))
	for i, s := range scopes {
		names[i] = string(s)
	}
	var key *ent.APIKey
	err = txn.Run(ctx, k.db, func(ctx context.Context, _ *sql.Tx, client *ent.Client) error {
		var err error
		key, err = client.APIKey.Create().SetName(name).SetPrefix(prefix).SetHash(hash[:]).SetScopes(names).Save(ctx)
		if err != nil {
			return fmt.Errorf("error creating API key: %w", err)
		}
		return audit.Record(ctx, client, audit.Event{
			Actor: Actor(ctx), Action: "api_key.create", TargetType: "APIKey", TargetID: key.ID.String(),
			Details: map[string]any{"name": name, "scopes": names, "prefix": prefix},
		})
	})
	if err != nil {
		return nil, err
	}
	return &Created{Key: key, Secret: secret}, nil
}

// Revoke marks the key revoked; later requests with it are refused: at once by this Keys, within
// KeyCacheTTL by those of other processes. Revoking twice is a no-op.
func (k *Keys) Revoke(ctx context.Context, id uuid.UUID) (*ent.APIKey, error) {
	var key *ent.APIKey
	err := txn.Run(ctx, k.db, func(ctx context.Context, _ *sql.Tx, client *ent.Client) error {
		var err error
		key, err = client.APIKey.Get(ctx, id)
		if ent.IsNotFound(err) {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		if err != nil {
			return fmt.Errorf("error loading API key: %w", err)
		}
		if key.RevokedAt != nil {
			return nil
		}
		key, err = key.Update().SetRevokedAt(k.now()).Save(ctx)
		if err != nil {
			return fmt.Errorf("error revoking API key: %w", err)
		}
		return audit.Record(ctx, client, audit.Event{
			Actor: Actor(ctx), Action: "api_key.revoke", TargetType: "APIKey", TargetID: key.ID.String(),
			Details: map[string]any{"name": key.Name, "prefix": key.Prefix},
		})
	})
	if err == nil {
		k.cache.forget(id)
	}
	return key, err
}

// List returns every key, newest first.
func (k *Keys) List(ctx context.Context) ([]*ent.APIKey, error) {
	keys, err := k.client.APIKey.Query().Order(ent.Desc(apikey.FieldCreatedAt)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("error listing API keys: %w", err)
	}
	return keys, nil
}

// Authenticate returns the principal of a presented secret, or ErrUnauthenticated. A secret
// that succeeded in the last KeyCacheTTL is answered from memory.
func (k *Keys) Authenticate(ctx context.Context, secret string) (*Principal, error) {
	prefix, ok := parsePrefix(secret)
	if !ok {
		return nil, ErrUnauthenticated
	}
	hash := sha256.Sum256([]byte(secret))
	if p := k.cache.get(hash, k.now()); p != nil {
		k.touch(ctx, p.KeyID)
		return p.clone(), nil
	}
	gen := k.cache.generation()
	key, err := k.client.APIKey.Query().Where(apikey.Prefix(prefix)).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, fmt.Errorf("error looking up API key: %w", err)
	}
	if subtle.ConstantTimeCompare(hash[:], key.Hash) != 1 || key.RevokedAt != nil {
		return nil, ErrUnauthenticated
	}
	k.touch(ctx, key.ID)
	scopes := make([]Scope, len(key.Scopes))
	for i, s := range key.Scopes {
		scopes[i] = Scope(s)
	}
	p := &Principal{KeyID: key.ID, Name: key.Name, Scopes: scopes}
	k.cache.put(hash, p.clone(), k.now(), gen)
	return p, nil
}

// touch updates lastUsedAt at most once per lastUsedEvery per key, off the request path.
func (k *Keys) touch(ctx context.Context, id uuid.UUID) {
	now := k.now()
	k.mu.Lock()
	last, seen := k.lastSeen[id]
	if seen && now.Sub(last) < lastUsedEvery {
		k.mu.Unlock()
		return
	}
	k.lastSeen[id] = now
	k.mu.Unlock()
	ctx = context.WithoutCancel(ctx)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := k.client.APIKey.UpdateOneID(id).SetLastUsedAt(now).Exec(ctx); err != nil && !errors.Is(err, context.Canceled) {
			k.log.Warn("updating API key last_used_at failed", "key_id", id, "error", err)
		}
	}()
}

func parsePrefix(secret string) (string, bool) {
	rest, ok := strings.CutPrefix(secret, secretHead)
	if !ok {
		return "", false
	}
	prefix, _, ok := strings.Cut(rest, "_")
	if !ok || len(prefix) == 0 || len(prefix) > 32 {
		return "", false
	}
	return prefix, true
}

func randomToken(nbytes int) (string, error) {
	b := make([]byte, nbytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("error generating random key: %w", err)
	}
	return strings.ToLower(b32.EncodeToString(b)), nil
}

// HasActiveAdmin reports whether any unrevoked key holds the admin scope.
func (k *Keys) HasActiveAdmin(ctx context.Context) (bool, error) {
	keys, err := k.client.APIKey.Query().Where(apikey.RevokedAtIsNil()).All(ctx)
	if err != nil {
		return false, fmt.Errorf("error listing API keys: %w", err)
	}
	for _, key := range keys {
		for _, s := range key.Scopes {
			if Scope(s) == ScopeAdmin {
				return true, nil
			}
		}
	}
	return false, nil
}
