package auth

import "errors"

var (
	// ErrUnauthenticated means no valid, unrevoked key was presented.
	ErrUnauthenticated = errors.New("invalid or revoked API key")
	// ErrInvalidInput wraps a caller's mistake (unknown scope, empty name).
	ErrInvalidInput = errors.New("invalid input")
	// ErrNotFound means the key does not exist.
	ErrNotFound = errors.New("API key not found")
)
