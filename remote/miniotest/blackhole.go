package miniotest

import (
	"net"
	"sync"
	"testing"
)

// BlackHole is a TCP listener on 127.0.0.1 that accepts connections and
// never reads from or answers them: a server that hangs. Its methods may
// be called from several goroutines.
type BlackHole struct {
	// Addr is the listener's "127.0.0.1:port".
	Addr string

	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
	done  chan struct{}
}

// NewBlackHole starts a black hole; cleanup closes it and every
// connection it took.
func NewBlackHole(t testing.TB) *BlackHole {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &BlackHole{Addr: l.Addr().String(), l: l, done: make(chan struct{})}
	go b.accept()
	t.Cleanup(b.close)
	return b
}

func (b *BlackHole) accept() {
	defer close(b.done)
	for {
		c, err := b.l.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		b.conns = append(b.conns, c)
		b.mu.Unlock()
	}
}

// Accepted returns how many connections the black hole has taken.
func (b *BlackHole) Accepted() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.conns)
}

// close stops accepting and closes the connections taken.
func (b *BlackHole) close() {
	_ = b.l.Close() // the accept loop ends on the error it gets
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range b.conns {
		_ = c.Close() // the peer's problem
	}
}
