package snapshot

import "bytes"

// zeroBlock is a repository chunk's worth of zeros (32 KiB): the unit in
// which apply leaves holes and in which chunk ids of zeros are recognised.
var zeroBlock [RepoChunkSize]byte

// isZero reports whether b, at most len(zeroBlock) bytes, is all zeros.
func isZero(b []byte) bool { return bytes.Equal(b, zeroBlock[:len(b)]) }
