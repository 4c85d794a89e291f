package snapshot

import (
	"io"

	"github.com/wimsnap/wimsnap/wim"
)

// storedSink is a StreamSink that can also store a stream without
// compression, as a *wim.Writer can (AddStoredStream).
type storedSink interface {
	AddStoredStream(r io.Reader, size int64) (wim.Hash, error)
}

// uncompressedSink stores every stream through AddStoredStream.
type uncompressedSink struct {
	StreamSink
	stored storedSink
}

func (u uncompressedSink) AddStream(r io.Reader, size int64) (wim.Hash, error) {
	return u.stored.AddStoredStream(r, size)
}

// fileSink returns the sink for the contents of the file rel (relative to
// the capture root): one that stores them uncompressed when cfg's
// [CompressionExclusionList] names rel and sink can, else sink itself. A
// repository's sink cannot: its chunks keep the repository's codec.
func fileSink(sink StreamSink, cfg *Config, rel string) StreamSink {
	if s, ok := sink.(storedSink); ok && cfg.NoCompress(rel) {
		return uncompressedSink{StreamSink: sink, stored: s}
	}
	return sink
}
