package campaign

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"
)

// batches scans rows into batches of n and emits each; a row scan does not keep (false) is
// left out.
func batches[T any](rows *sql.Rows, n int, emit func([]T) error, scan func(*T) (bool, error)) error {
	batch := make([]T, 0, n)
	for rows.Next() {
		var v T
		keep, err := scan(&v)
		if err != nil {
			return fmt.Errorf("error reading sync diff: %w", err)
		}
		if !keep {
			continue
		}
		if batch = append(batch, v); len(batch) == n {
			if err := emit(batch); err != nil {
				return err
			}
			batch = make([]T, 0, n)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("error reading sync diff: %w", err)
	}
	if len(batch) > 0 {
		return emit(batch)
	}
	return nil
}

// emitBatches emits vs in batches of n.
func emitBatches[T any](vs []T, n int, emit func([]T) error) error {
	for b := range slices.Chunk(vs, n) {
		if err := emit(b); err != nil {
			return err
		}
	}
	return nil
}

// dispatch runs read, which emits batches, and hands each batch to one of n workers running
// send. The first error stops reading and sending and is returned once the batches in flight
// have settled (each records its own outcome).
func dispatch[T any](ctx context.Context, n int, read func(context.Context, func([]T) error) error, send func(context.Context, []T) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		once  sync.Once
		first error
		wg    sync.WaitGroup
		ch    = make(chan []T)
	)
	fail := func(err error) {
		once.Do(func() { first = err; cancel(err) })
	}
	for range n {
		wg.Go(func() {
			for b := range ch {
				if ctx.Err() != nil {
					fail(context.Cause(ctx)) // a batch left unsent: the run is not complete
					continue
				}
				if err := send(ctx, b); err != nil {
					fail(err)
				}
			}
		})
	}
	err := read(ctx, func(b []T) error {
		select {
		case ch <- b:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	close(ch)
	wg.Wait()
	if first != nil {
		return first
	}
	if err != nil {
		return err
	}
	return context.Cause(ctx)
}
