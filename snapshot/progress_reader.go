package snapshot

import "io"

// progressReader passes reads through to r and tells add how many bytes
// each returned, so that a long stream reports progress while it is read,
// not only when it ends. add is called from the reading goroutine.
type progressReader struct {
	r   io.Reader
	add func(n int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.add(int64(n))
	}
	return n, err
}
