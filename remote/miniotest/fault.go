package miniotest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// A Fault is what the proxy does to a request a Rule takes instead of
// forwarding it faithfully. ResetMidBody, Status, Stall, FlipByte and
// ResetMidResponse make the kinds there are.
type Fault interface {
	fmt.Stringer
	// inject handles r in place of the proxy's forwarding.
	inject(p *Proxy, w http.ResponseWriter, r *http.Request)
}

// ResetMidBody returns a fault that reads the first half of the request
// body (by its Content-Length; nothing when the length is not declared)
// and then resets the client's connection (TCP RST) without forwarding
// anything. The client sees a connection error.
//
// Go's http.Transport resends a GET or HEAD on a new connection when a
// reused one fails before any response arrives, so against such requests
// this fault may be invisible to the client; the second attempt is
// counted, and taken by rules, like any other request.
func ResetMidBody() Fault { return resetMidBody{} }

type resetMidBody struct{}

func (resetMidBody) String() string { return "ResetMidBody" }

func (resetMidBody) inject(_ *Proxy, w http.ResponseWriter, r *http.Request) {
	if half := r.ContentLength / 2; half > 0 {
		_, _ = io.CopyN(io.Discard, r.Body, half) // the reset follows either way
	}
	reset(w, false)
}

// Status returns a fault that reads the whole request body and answers it
// with the HTTP status code and an S3 error document, without forwarding:
// 500 is InternalError, 503 is SlowDown (see writeError for the others).
// Status panics if code is not an error status (400 to 599).
func Status(code int) Fault {
	if code < 400 || code > 599 {
		panic(fmt.Sprintf("miniotest: Status(%d) is not an error status", code))
	}
	return status(code)
}

type status int

func (s status) String() string { return fmt.Sprintf("Status(%d)", int(s)) }

func (s status) inject(_ *Proxy, w http.ResponseWriter, r *http.Request) {
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		panic(http.ErrAbortHandler) // the client went away
	}
	writeError(w, r, int(s))
}

// Stall returns a fault that holds the request for d and then forwards it
// faithfully. If the client gives up meanwhile (as a client with a
// timeout shorter than d does) or the proxy closes, the request is
// dropped without being forwarded. The proxy notices a client that gives
// up only once it has read the request's body, so a stalled PUT with a
// body is held for the full d.
func Stall(d time.Duration) Fault { return stall(d) }

type stall time.Duration

func (s stall) String() string { return fmt.Sprintf("Stall(%v)", time.Duration(s)) }

func (s stall) inject(p *Proxy, w http.ResponseWriter, r *http.Request) {
	timer := time.NewTimer(time.Duration(s))
	defer timer.Stop()
	select {
	case <-timer.C:
		p.forward(w, r)
	case <-r.Context().Done():
		panic(http.ErrAbortHandler)
	}
}

// FlipByte returns a fault that forwards the request and inverts the
// middle byte of the response body if the status is 2xx and the body is
// not empty; the headers, Content-Length and ETag included, are passed on
// unchanged. Other responses pass unchanged. The whole body is held in
// memory.
func FlipByte() Fault { return flipByte{} }

type flipByte struct{}

func (flipByte) String() string { return "FlipByte" }

func (flipByte) inject(p *Proxy, w http.ResponseWriter, r *http.Request) {
	resp, body, err := p.fetch(r)
	if err != nil {
		p.badGateway(w, r, err)
		return
	}
	if resp.StatusCode/100 == 2 && len(body) > 0 {
		body[len(body)/2] ^= 0xff
	}
	writeHead(w, resp)
	if _, err := w.Write(body); err != nil {
		panic(http.ErrAbortHandler)
	}
}

// ResetMidResponse returns a fault that forwards the request, sends the
// client the response's status, headers and the first half of its body,
// and then resets the connection (TCP RST). The client sees the response
// begin and then a connection error while reading the body. When the
// body is empty, as in the answer to a PUT, nothing of the response is
// sent: the server has done the work, but the client sees a connection
// error (for a GET or HEAD, Go's http.Transport may resend the request;
// see ResetMidBody). The whole body is held in memory.
func ResetMidResponse() Fault { return resetMidResponse{} }

type resetMidResponse struct{}

func (resetMidResponse) String() string { return "ResetMidResponse" }

func (resetMidResponse) inject(p *Proxy, w http.ResponseWriter, r *http.Request) {
	resp, body, err := p.fetch(r)
	if err != nil {
		p.badGateway(w, r, err)
		return
	}
	if len(body) == 0 {
		reset(w, false)
		return
	}
	writeHead(w, resp)
	_, _ = w.Write(body[:len(body)/2]) // the reset follows either way
	reset(w, true)
}

// Trickle returns a fault that forwards the request faithfully but
// slowly: it reads the request body, and then sends the response body, in
// pieces of n bytes, one every d. A client whose timeouts count progress
// sees a slow but live server; one that caps a whole transfer gives up.
func Trickle(n int, d time.Duration) Fault { return trickle{n: n, d: d} }

type trickle struct {
	n int
	d time.Duration
}

func (t trickle) String() string { return fmt.Sprintf("Trickle(%d, %v)", t.n, t.d) }

func (t trickle) inject(p *Proxy, w http.ResponseWriter, r *http.Request) {
	if r.ContentLength > 0 {
		r.Body = io.NopCloser(&slowReader{r: r.Body, t: t, done: r.Context().Done()})
	}
	p.relay(w, r, func(resp io.Reader) error {
		rc := http.NewResponseController(w)
		body := &slowReader{r: resp, t: t, done: r.Context().Done()}
		buf := make([]byte, t.n)
		for {
			k, err := body.Read(buf)
			if _, werr := w.Write(buf[:k]); werr != nil {
				return werr
			}
			if ferr := rc.Flush(); ferr != nil {
				return ferr
			}
			if err == io.EOF { //nolint:errorlint // io.Reader's contract: io.EOF itself
				return nil
			}
			if err != nil {
				return err
			}
		}
	})
}

// slowReader reads at most t.n bytes of r per call, each after a pause of
// t.d, until done is closed.
type slowReader struct {
	r    io.Reader
	t    trickle
	done <-chan struct{}
}

func (s *slowReader) Read(p []byte) (int, error) {
	timer := time.NewTimer(s.t.d)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-s.done:
		return 0, http.ErrAbortHandler
	}
	k, err := io.ReadFull(s.r, p[:min(len(p), s.t.n)])
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil // the next call reports io.EOF
	}
	return k, err
}
