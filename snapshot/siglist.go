package snapshot

import (
	"bytes"
	"slices"
	"time"

	"github.com/wimsnap/wimsnap/index"
)

// sigList collects the stat signatures of the files a snapshot captures,
// for the index, in little memory: an unchanged /usr has 127k.
//   - Its records hold no pointers, so the garbage collector neither scans
//     them nor reads the list's unfilled pages while the capture runs.
//   - A file whose signature is the one stored for it (kept) records none:
//     the index keeps the stored one.
//   - Names and directory paths are copied into shared blocks, one
//     allocation per block rather than one each; a directory's path is
//     copied once for each run of its files (the walk comes back to a
//     directory after each subdirectory), not once per file.
type sigList struct {
	blocks [][]byte
	dirs   []blockSpan // directory paths, each with its trailing '/' ("" for the top)
	recs   []sigRec
	sigs   []index.Sig // of the files not kept
	path   []byte      // At's result
}

// blockSpan is a string of a block: blocks[block][off:off+n].
type blockSpan struct{ block, off, n uint32 }

// sigRec is one file: its name in directory dirs[dir], and its signature
// sigs[sig], or -1 when kept.
type sigRec struct {
	dir  uint32
	name blockSpan
	sig  int32
}

const sigListBlock = 1 << 20

// racyWindow is how long before a snapshot began a file's modification
// or change time may lie and still be "racy": on a file system that keeps
// whole seconds (ext4 with small inodes) or two (FAT), a write later in
// the same tick as the snapshot read the file leaves its signature as it
// was, and every later snapshot would take the file for unchanged. Such a
// file records racySig, which matches no file, so that the next snapshot
// reads it again (as git does for its index).
const racyWindow = 2 * time.Second

// racySig is s made to match no file's signature.
func racySig(s index.Sig) index.Sig {
	s.Size = -1
	return s
}

// reserve makes room for n records.
func (l *sigList) reserve(n int) { l.recs = make([]sigRec, 0, n) }

// add records the file at path (copied) with signature s, or as kept: its
// signature is the one stored for it (see index.Batch.SetFiles). A path
// longer than the index stores (index.MaxFilePath, in trees thousands of
// levels deep) is left out: that file is read again by the next snapshot.
func (l *sigList) add(path []byte, s index.Sig, kept bool) {
	if len(path) > index.MaxFilePath {
		return
	}
	cut := bytes.LastIndexByte(path, '/') + 1
	dir, name := path[:cut], path[cut:]
	if last := len(l.dirs) - 1; last < 0 || !bytes.Equal(l.bytes(l.dirs[last]), dir) {
		l.dirs = append(l.dirs, l.store(dir))
	}
	r := sigRec{dir: uint32(len(l.dirs) - 1), name: l.store(name), sig: -1}
	if !kept {
		r.sig = int32(len(l.sigs))
		l.sigs = append(l.sigs, s)
	}
	l.recs = append(l.recs, r)
}

// store copies b into the blocks.
func (l *sigList) store(b []byte) blockSpan {
	last := len(l.blocks) - 1
	if last < 0 || len(b) > cap(l.blocks[last])-len(l.blocks[last]) {
		l.blocks = append(l.blocks, make([]byte, 0, max(sigListBlock, len(b))))
		last++
	}
	blk := l.blocks[last]
	l.blocks[last] = append(blk, b...)
	return blockSpan{block: uint32(last), off: uint32(len(blk)), n: uint32(len(b))}
}

func (l *sigList) bytes(s blockSpan) []byte { return l.blocks[s.block][s.off : s.off+s.n] }

// sorted sorts the files by path, in place, and returns them as the index
// takes them. A capture adds each path once.
func (l *sigList) sorted() index.FileSigs {
	slices.SortFunc(l.recs, func(a, b sigRec) int {
		if a.dir == b.dir {
			return bytes.Compare(l.bytes(a.name), l.bytes(b.name))
		}
		return compareJoined(l.bytes(l.dirs[a.dir]), l.bytes(a.name), l.bytes(l.dirs[b.dir]), l.bytes(b.name))
	})
	return l
}

// compareJoined compares a1+a2 with b1+b2 as bytes.Compare would, without
// joining them.
func compareJoined(a1, a2, b1, b2 []byte) int {
	for {
		if len(a1) == 0 {
			if a1, a2 = a2, nil; len(a1) == 0 {
				if len(b1)+len(b2) == 0 {
					return 0
				}
				return -1
			}
		}
		if len(b1) == 0 {
			if b1, b2 = b2, nil; len(b1) == 0 {
				return 1
			}
		}
		n := min(len(a1), len(b1))
		if c := bytes.Compare(a1[:n], b1[:n]); c != 0 {
			return c
		}
		a1, b1 = a1[n:], b1[n:]
	}
}

// Len is the number of files.
func (l *sigList) Len() int { return len(l.recs) }

// At returns the path of the i-th file, valid until the next call, and its
// signature or that it is kept.
func (l *sigList) At(i int) ([]byte, index.Sig, bool) {
	r := &l.recs[i]
	l.path = append(append(l.path[:0], l.bytes(l.dirs[r.dir])...), l.bytes(r.name)...)
	if r.sig < 0 {
		return l.path, index.Sig{}, true
	}
	return l.path, l.sigs[r.sig], false
}
