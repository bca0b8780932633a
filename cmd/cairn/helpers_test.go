package main

import (
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"
)

func openURL(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", url)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// testSecretKey is a CAIRN_SECRET_KEY of the required length (secret.MinKeyLength).
const testSecretKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
