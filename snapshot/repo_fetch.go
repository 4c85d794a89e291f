package snapshot

import (
	"context"
	"errors"
	"sync"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
)

// objectFetchers is how many small objects (index objects, manifests) a
// sync, check or prune fetches at once from a store whose objects are
// requests (S3): there a request's round trip, not its bytes, sets its
// time, and one at a time a cold sync of 1200 snapshots through a link of
// 50 ms took two minutes.
const objectFetchers = 8

// prefetchLimit bounds an object fetched ahead of its turn: a larger one is
// read again when its turn comes, so that the fetchers hold at most
// objectFetchers times this (a hostile repository's 256 MiB index objects
// are read one at a time, as before).
const prefetchLimit = 4 << 20

// fetchObjects reads the objects ids under prefix, each up to limit bytes
// (readObject), and calls use with each one's stored bytes or error, in
// the order of ids, on the caller's goroutine; it stops at use's first
// error and returns it. From a store that is a local directory it reads
// them one at a time, as use asks; from any other, up to objectFetchers
// ahead of use.
func (r *Repo) fetchObjects(ctx context.Context, prefix string, ids []index.ID, limit int64,
	use func(id index.ID, stored []byte, err error) error) error {
	read := func(ctx context.Context, id index.ID, limit int64) ([]byte, error) {
		return r.readObject(ctx, objectKey(prefix, id), id, limit)
	}
	if _, local := r.store.(remote.Opener); local || len(ids) < 2 {
		for _, id := range ids {
			if err := ctx.Err(); err != nil {
				return err
			}
			stored, err := read(ctx, id, limit)
			if err := use(id, stored, err); err != nil {
				return err
			}
		}
		return nil
	}
	return fetchAhead(ctx, ids, func(ctx context.Context, id index.ID) ([]byte, error) {
		return read(ctx, id, min(limit, prefetchLimit))
	}, func(id index.ID, stored []byte, err error) error {
		if errors.Is(err, remote.ErrTooLarge) && limit > prefetchLimit {
			stored, err = read(ctx, id, limit)
		}
		return use(id, stored, err)
	})
}

type fetched struct {
	stored []byte
	err    error
}

// fetchAhead calls fetch for each of ids, up to objectFetchers at once and
// as far ahead of use, which it calls with each result in the order of
// ids; it returns use's first error, or ctx's, once every fetch ended.
func fetchAhead(ctx context.Context, ids []index.ID, fetch func(context.Context, index.ID) ([]byte, error),
	use func(index.ID, []byte, error) error) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // before wg.Wait: the fetches and the feeder stop
	slots := make([]chan fetched, len(ids))
	for i := range slots {
		slots[i] = make(chan fetched, 1)
	}
	ahead := make(chan struct{}, objectFetchers) // fetched or fetching, not yet used
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i, id := range ids {
			select {
			case ahead <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				stored, err := fetch(ctx, id)
				slots[i] <- fetched{stored, err}
			}()
		}
	}()
	for i, id := range ids {
		var f fetched
		select {
		case f = <-slots[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		<-ahead
		if err := use(id, f.stored, f.err); err != nil {
			return err
		}
	}
	return nil
}
