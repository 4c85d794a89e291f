package remote

import "context"

// ephemeralKey marks a context made by Ephemeral.
type ephemeralKey struct{}

// Ephemeral returns a context under which a store need not make the
// writes and deletions it does survive a crash of the machine: after one,
// an object written may be missing, or one deleted back, but none is left
// partial (the local directory store skips the fsyncs of the objects'
// directories, and still syncs their bytes). It is for objects whose loss,
// or return, in a crash harms nothing, such as locks, which die with their
// holder (one that a crash brings back is stale). What is written or
// deleted is visible to other processes at once either way.
func Ephemeral(ctx context.Context) context.Context {
	return context.WithValue(ctx, ephemeralKey{}, true)
}

// Durable reports whether ctx asks a store for durable writes: it is not
// from Ephemeral. A Store that can skip work for writes that need not
// last checks it.
func Durable(ctx context.Context) bool {
	v, _ := ctx.Value(ephemeralKey{}).(bool)
	return !v
}
