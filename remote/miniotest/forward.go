package miniotest

import (
	"io"
	"net"
	"net/http"
	"strings"
)

// hopHeaders are the hop-by-hop headers (RFC 9110 section 7.6.1), which
// concern one connection and are not forwarded.
var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// forward sends r to the target and streams the response back. A failure
// to reach the target answers 502; a failure while copying the response
// body aborts the client connection, so that the client sees an error
// rather than a short body.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request) {
	p.relay(w, r, func(body io.Reader) error {
		_, err := io.Copy(w, body)
		return err
	})
}

// relay is forward with the copy of the response body done by send.
func (p *Proxy) relay(w http.ResponseWriter, r *http.Request, send func(body io.Reader) error) {
	resp, err := p.transport.RoundTrip(p.outgoing(r))
	if err != nil {
		p.badGateway(w, r, err)
		return
	}
	defer resp.Body.Close() //nolint:errcheck // read-only; a failed read aborts the response
	writeHead(w, resp)
	if err := send(resp.Body); err != nil {
		panic(http.ErrAbortHandler)
	}
}

// fetch sends r to the target and returns the response with its whole
// body read. The response's Body is closed.
func (p *Proxy) fetch(r *http.Request) (*http.Response, []byte, error) {
	resp, err := p.transport.RoundTrip(p.outgoing(r))
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close() //nolint:errcheck // read-only; a failed read is returned
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	return resp, body, nil
}

// outgoing returns the request to send to the target for r: the same
// method, request URI (escaping included), Host header, end-to-end headers,
// body and trailers.
func (p *Proxy) outgoing(r *http.Request) *http.Request {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme = "http"
	out.URL.Host = p.target
	out.Host = r.Host
	out.Trailer = r.Trailer // filled in once the body has been read
	if r.ContentLength == 0 {
		out.Body = http.NoBody
	}
	removeHop(out.Header)
	return out
}

// writeHead copies the status and end-to-end headers of resp to w.
func writeHead(w http.ResponseWriter, resp *http.Response) {
	removeHop(resp.Header)
	h := w.Header()
	for name, values := range resp.Header {
		h[name] = values
	}
	if _, ok := h["Content-Type"]; !ok {
		h["Content-Type"] = nil // keep net/http from sniffing one
	}
	w.WriteHeader(resp.StatusCode)
}

// removeHop deletes the hop-by-hop headers from h, including those that
// its Connection header names.
func removeHop(h http.Header) {
	for _, value := range h.Values("Connection") {
		for name := range strings.SplitSeq(value, ",") {
			h.Del(strings.TrimSpace(name))
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

// badGateway answers 502 for a request the target did not answer.
func (p *Proxy) badGateway(w http.ResponseWriter, r *http.Request, err error) {
	p.t.Logf("miniotest proxy: %s %s: %v", r.Method, r.URL.Path, err)
	writeError(w, r, http.StatusBadGateway)
}

// reset aborts w's connection with a TCP RST instead of an orderly close;
// what the handler wrote is flushed first. The client loses the rest of
// the exchange.
func reset(w http.ResponseWriter, wroteHeader bool) {
	rc := http.NewResponseController(w)
	if wroteHeader {
		_ = rc.Flush() // the reset reports any failure
	}
	conn, _, err := rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0) // Close sends RST, not FIN
	}
	_ = conn.Close()
}
