package miniotest

import (
	"context"
	"errors"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// closeTimeout bounds how long a proxy's cleanup waits for the requests in
// flight to give up.
const closeTimeout = 10 * time.Second

// Rule picks requests for a Fault. A request matches when its method and
// URL path match; the first rule added that matches and is not spent takes
// it, and further rules are not tried.
type Rule struct {
	Method       string // HTTP method, "PUT" say; "" matches any
	PathContains string // substring of the URL path (no query); "" matches any
	// Times is how many matching requests the rule takes before it is
	// spent and dropped; 0 means every matching request, for good.
	Times int
	// Fault is what happens to the requests the rule takes. nil forwards
	// them unchanged, which lets the first few matching requests through
	// to a later rule's fault.
	Fault Fault
}

// Proxy is a plain-HTTP proxy on a random port of 127.0.0.1 that forwards
// every request to one target, faithfully unless a Rule picks it for a
// Fault, and counts the requests it receives. Its methods may be called
// concurrently with the requests it serves. It stops at cleanup: requests
// in flight, stalled ones included, are aborted.
type Proxy struct {
	Addr string // "127.0.0.1:port" the proxy listens on
	URL  string // "http://" followed by Addr

	t         testing.TB
	target    string
	srv       *http.Server
	served    chan error // the result of srv.Serve
	transport *http.Transport
	ctx       context.Context // canceled when the proxy closes
	cancel    context.CancelFunc
	active    sync.WaitGroup // requests in flight
	closeOnce sync.Once

	mu       sync.Mutex
	closed   bool
	rules    []*Rule        // copies, Times counting down
	counts   map[string]int // requests received by method
	injected int            // requests given to a non-nil Fault
}

// NewProxy starts a proxy forwarding to target, the "host:port" of a
// plain-HTTP server such as a Server started with Start. The Host header
// is forwarded unchanged, so a client that signs its requests for the
// proxy's Addr (AWS V4 signs the Host header) is verified by the target.
// The proxy is closed at cleanup.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{
		Addr:   ln.Addr().String(),
		t:      t,
		target: target,
		served: make(chan error, 1),
		transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			DisableCompression:  true,
			MaxIdleConnsPerHost: 16,
		},
		counts: make(map[string]int),
	}
	p.URL = "http://" + p.Addr
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve), ReadHeaderTimeout: time.Minute}
	go func() { p.served <- p.srv.Serve(ln) }()
	t.Cleanup(p.Close)
	return p
}

// Add appends a rule. Rules added while requests are in flight apply to
// the requests received after Add returns. A negative Times panics.
func (p *Proxy) Add(r Rule) {
	if r.Times < 0 {
		panic("miniotest: Rule.Times < 0")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, &r)
}

// Count returns how many requests with method the proxy has received, all
// requests for "". Requests count when they arrive, whatever a rule does
// with them.
func (p *Proxy) Count(method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if method != "" {
		return p.counts[method]
	}
	n := 0
	for _, c := range p.counts {
		n += c
	}
	return n
}

// Counts returns a copy of the number of requests received by method.
func (p *Proxy) Counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.counts)
}

// Injected returns how many requests a rule has given to its (non-nil)
// Fault so far.
func (p *Proxy) Injected() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.injected
}

// serve handles one request: counts it, applies the rule that takes it,
// or forwards it.
func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	fault, ok := p.enter(r)
	if !ok {
		panic(http.ErrAbortHandler) // closing: drop the connection
	}
	defer p.active.Done()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(p.ctx, cancel)()
	r = r.WithContext(ctx)
	if fault == nil {
		p.forward(w, r)
		return
	}
	p.t.Logf("miniotest proxy: %s %s: %v", r.Method, r.URL.Path, fault)
	fault.inject(p, w, r)
}

// enter registers r as in flight, counts it and returns the fault of the
// rule that takes it, if any. It reports false if the proxy is closing.
func (p *Proxy) enter(r *http.Request) (Fault, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, false
	}
	p.active.Add(1)
	p.counts[r.Method]++
	for i, rule := range p.rules {
		if !rule.matches(r) {
			continue
		}
		if rule.Times > 0 {
			rule.Times--
			if rule.Times == 0 {
				p.rules = append(p.rules[:i], p.rules[i+1:]...)
			}
		}
		if rule.Fault != nil {
			p.injected++
		}
		return rule.Fault, true
	}
	return nil, true
}

// matches reports whether the rule matches r.
func (rule *Rule) matches(r *http.Request) bool {
	return (rule.Method == "" || rule.Method == r.Method) &&
		strings.Contains(r.URL.Path, rule.PathContains)
}

// Close stops the proxy: it stops accepting connections, aborts the
// requests in flight (a stalled request is dropped, its client sees the
// connection close) and waits for them to end. Cleanup calls it; tests
// may call it earlier to make the server unreachable. Calls after the
// first do nothing.
func (p *Proxy) Close() {
	p.closeOnce.Do(p.close)
}

// close does the work of Close.
func (p *Proxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cancel()
	if err := p.srv.Close(); err != nil {
		p.t.Errorf("miniotest proxy: close: %v", err)
	}
	if err := <-p.served; !errors.Is(err, http.ErrServerClosed) {
		p.t.Errorf("miniotest proxy: serve: %v", err)
	}
	done := make(chan struct{})
	go func() {
		p.active.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(closeTimeout):
		p.t.Errorf("miniotest proxy: requests still in flight %v after closing", closeTimeout)
	}
	p.transport.CloseIdleConnections()
}
