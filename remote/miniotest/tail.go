package miniotest

import "sync"

// tailLimit is how many bytes of a server's output a tail keeps.
const tailLimit = 64 << 10

// tail is an io.Writer that keeps the last tailLimit bytes written to it,
// for failure messages. It is safe for concurrent use.
type tail struct {
	mu      sync.Mutex
	buf     []byte // up to 2*tailLimit bytes, trimmed to tailLimit when full
	dropped bool   // whether output was discarded
}

// Write appends p, discarding the oldest output beyond tailLimit. It never
// fails.
func (b *tail) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > 2*tailLimit {
		b.buf = b.buf[:copy(b.buf, b.buf[len(b.buf)-tailLimit:])]
		b.dropped = true
	}
	return len(p), nil
}

// String returns the last tailLimit bytes written, marked when earlier
// output was dropped.
func (b *tail) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.buf
	if len(out) > tailLimit {
		out = out[len(out)-tailLimit:]
	}
	if b.dropped || len(out) < len(b.buf) {
		return "[earlier output dropped]\n" + string(out)
	}
	return string(out)
}
