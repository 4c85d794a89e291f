package snapshot

import (
	"unsafe"

	"github.com/wimsnap/wimsnap/index"
)

// sigList collects the stat signatures of the files a snapshot captures,
// for the index. Its records hold no pointers, so the garbage collector
// neither scans them nor reads the list's unfilled pages while the capture
// runs (a /usr snapshot records 127k, 8 MB); paths are copied into shared
// blocks, one allocation per block rather than one each.
type sigList struct {
	blocks [][]byte
	recs   []sigRec
}

// sigRec is one signature; its path is blocks[block][off:off+n].
type sigRec struct {
	block, off, n uint32
	sig           index.Sig
}

const sigListBlock = 1 << 20

// reserve makes room for n records.
func (l *sigList) reserve(n int) { l.recs = make([]sigRec, 0, n) }

// add records the signature s of the file at path, copying path.
func (l *sigList) add(path []byte, s index.Sig) {
	last := len(l.blocks) - 1
	if last < 0 || len(path) > cap(l.blocks[last])-len(l.blocks[last]) {
		l.blocks = append(l.blocks, make([]byte, 0, max(sigListBlock, len(path))))
		last++
	}
	b := l.blocks[last]
	l.recs = append(l.recs, sigRec{block: uint32(last), off: uint32(len(b)), n: uint32(len(path)), sig: s})
	l.blocks[last] = append(b, path...)
}

// fileSigs returns the signatures as the index takes them. Their paths
// share the list's blocks, which they keep alive.
func (l *sigList) fileSigs() []index.FileSig {
	out := make([]index.FileSig, len(l.recs))
	for i, r := range l.recs {
		b := l.blocks[r.block][r.off : r.off+r.n]
		out[i] = index.FileSig{Path: unsafe.String(unsafe.SliceData(b), len(b)), Sig: r.sig}
	}
	return out
}
