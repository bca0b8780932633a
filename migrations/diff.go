//go:build ignore

// diff.go writes the next migration file: the difference between the ent schema and the state
// that the existing migrations produce, computed by replaying them on a scratch database.
//
//	go run ./migrations/diff.go -dev-url postgres://... NAME
package main

import (
	"context"
	"flag"
	"log"

	"ariga.io/atlas/sql/migrate"
	"entgo.io/ent/dialect"
	"entgo.io/ent/dialect/sql/schema"
	_ "github.com/lib/pq"

	entmigrate "github.com/cairn-cdp/cairn/ent/migrate"
)

func main() {
	devURL := flag.String("dev-url", "", "URL of an empty scratch Postgres database")
	flag.Parse()
	if *devURL == "" || flag.NArg() != 1 {
		log.Fatal("usage: go run ./migrations/diff.go -dev-url URL NAME")
	}
	dir, err := migrate.NewLocalDir("migrations")
	if err != nil {
		log.Fatalf("opening migrations dir: %v", err)
	}
	// Re-hash first so hand-written migrations are accepted.
	sum, err := dir.Checksum()
	if err != nil {
		log.Fatalf("hashing migrations: %v", err)
	}
	if err := migrate.WriteSumFile(dir, sum); err != nil {
		log.Fatalf("writing atlas.sum: %v", err)
	}
	err = entmigrate.NamedDiff(context.Background(), *devURL, flag.Arg(0),
		schema.WithDir(dir),
		schema.WithMigrationMode(schema.ModeReplay),
		schema.WithDialect(dialect.Postgres),
		schema.WithFormatter(migrate.DefaultFormatter),
		schema.WithDropIndex(true),
		schema.WithDropColumn(true),
	)
	if err != nil {
		log.Fatalf("generating migration: %v", err)
	}
}
