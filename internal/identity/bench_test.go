package identity

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkResolve measures the resolver's hot path: a group of 500 messages whose userId and
// anonymousId are known (resolve, observe, flush), inside a transaction that is rolled back.
// "cached" uses the resolver's identifier cache; "cold" looks every identifier up.
//
//	go test ./internal/identity -run '^$' -bench Resolve
func BenchmarkResolve(b *testing.B) {
	for _, cached := range []bool{true, false} {
		b.Run(fmt.Sprintf("cached=%v", cached), func(b *testing.B) {
			tb := setupBench(b)
			ctx := context.Background()
			const users, group = 5000, 500
			subjects := func(offset int) []Subject {
				out := make([]Subject, group)
				for i := range out {
					u := (offset*group + i*7) % users
					out[i] = Subject{At: time.Now(), IDs: []Identifier{{TypeUserID, fmt.Sprint("u", u)}, {TypeAnonymousID, fmt.Sprint("a", u)}}}
				}
				return out
			}
			for lo := 0; lo < users; lo += group {
				tx, err := tb.db.BeginTx(ctx, nil)
				require.NoError(b, err)
				batch, err := tb.res.Resolve(ctx, tx, subjects(lo/group))
				require.NoError(b, err)
				require.NoError(b, batch.Flush(ctx, "system"))
				require.NoError(b, batch.Finish(ctx))
				require.NoError(b, tx.Commit())
				batch.Committed()
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if !cached {
					tb.res.ids.reset()
				}
				tx, err := tb.db.BeginTx(ctx, nil)
				require.NoError(b, err)
				subs := subjects(i)
				batch, err := tb.res.Resolve(ctx, tx, subs)
				require.NoError(b, err)
				for j, s := range subs {
					batch.Observe(batch.Customer(j), s.At, nil)
				}
				require.NoError(b, batch.Flush(ctx, "system"))
				require.NoError(b, batch.Finish(ctx))
				require.NoError(b, tx.Rollback())
			}
			b.ReportMetric(float64(b.N*group)/b.Elapsed().Seconds(), "messages/s")
		})
	}
}
