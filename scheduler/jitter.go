package scheduler

import (
	"hash/fnv"
	"time"
)

// Jitter returns a delay in [0, limit) for the job known by key, in whole
// seconds, to pass to [Schedule.WithJitter]. The delay depends on key and
// limit alone: it is the same at every start of the agent and in every
// release, and different keys spread evenly over the range. Hosts that run
// a job of the same name spread their runs only if the key tells them
// apart, so callers pass the host name with the job name ("lab1/system").
// A limit below one second gives 0.
func Jitter(key string, limit time.Duration) time.Duration {
	if limit < time.Second {
		return 0
	}
	n := uint64(limit / time.Second)
	h := fnv.New64a()
	h.Write([]byte(key)) // a hash.Hash never fails
	return time.Duration(mix(h.Sum64())%n) * time.Second
}

// mix is the finalizer of SplitMix64: FNV-1a alone leaves the low bits,
// which the remainder keeps, weakly dependent on the first bytes of a key.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
