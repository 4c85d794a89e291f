package remote

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// answerTransport fails a request whose body is at most AnswerBodyMax
// bytes when its response headers have not arrived within timeout of its
// start: connecting, sending the request and waiting for the server's
// answer all count. The response body is not timed; the stall timeout of
// the connection guards it. Larger uploads pass through untimed, since
// the time to send their body depends on the link.
type answerTransport struct {
	next    http.RoundTripper
	timeout time.Duration
}

func (t *answerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !smallRequest(req) {
		return t.next.RoundTrip(req)
	}
	ctx, cancel := context.WithCancel(req.Context())
	timer := time.AfterFunc(t.timeout, cancel)
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if !timer.Stop() {
		// The timer cancelled the request, perhaps just as it succeeded:
		// its body would fail to read now.
		if err == nil {
			_ = resp.Body.Close() // the request failed; nothing to add
		}
		// Not wrapped: http.Client's url.Error (which names the request)
		// is a net.Error that times out only if its Err is one.
		return nil, answerTimeout(t.timeout)
	}
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// smallRequest reports whether req's body is known to be at most
// AnswerBodyMax bytes.
func smallRequest(req *http.Request) bool {
	if req.Body == nil || req.Body == http.NoBody {
		return true
	}
	return req.ContentLength >= 0 && req.ContentLength <= AnswerBodyMax
}

// answerTimeout is the net.Error of a request the server did not answer
// within its duration.
type answerTimeout time.Duration

func (d answerTimeout) Error() string {
	return fmt.Sprintf("no answer from the server within %v", time.Duration(d))
}

// Timeout and Temporary make answerTimeout a net.Error that times out.
func (answerTimeout) Timeout() bool   { return true }
func (answerTimeout) Temporary() bool { return true }

// cancelBody releases the request's context once the body is closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
