package wim

import (
	"context"
	"crypto/sha1"
	"encoding/binary"
	"fmt"
	"io"
)

// integrityChunk is the span each integrity-table hash covers, as wimlib
// writes it.
const integrityChunk = 10 << 20

// integrityRange is the part of the file the integrity table covers: from
// the end of the header to the end of the blob table.
func integrityRange(blobTable resHdr) (start, end int64) {
	return headerSize, blobTable.offset + blobTable.storedSize
}

// hashRange returns the SHA-1 of every chunkSize bytes of r in [start, end).
func hashRange(ctx context.Context, r io.ReaderAt, start, end, chunkSize int64, progress func(int64)) ([]Hash, error) {
	var out []Hash
	for off := start; off < end; off += chunkSize {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h := sha1.New()
		n := min(chunkSize, end-off)
		if _, err := io.Copy(h, io.NewSectionReader(r, off, n)); err != nil {
			return nil, err
		}
		var sum Hash
		h.Sum(sum[:0])
		out = append(out, sum)
		if progress != nil {
			progress(n)
		}
	}
	return out, nil
}

// marshalIntegrity encodes an integrity table.
func marshalIntegrity(hashes []Hash, chunkSize uint32) []byte {
	b := make([]byte, 0, 12+20*len(hashes))
	b = binary.LittleEndian.AppendUint32(b, uint32(12+20*len(hashes)))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(hashes)))
	b = binary.LittleEndian.AppendUint32(b, chunkSize)
	for _, h := range hashes {
		b = append(b, h[:]...)
	}
	return b
}

// CheckIntegrity verifies the integrity table against the file. It returns
// nil when the WIM has no table (see Header.HasIntegrity), an error wrapping
// ErrChecksum naming the first damaged span, or ErrFormat for a bad table.
// Of a split WIM, it checks every part added, each against its own table.
func (r *Reader) CheckIntegrity(progress func(done int64)) error {
	if !r.hdr.Split() {
		return r.checkIntegrity(progress)
	}
	var base int64
	for _, p := range r.parts {
		if p == nil {
			continue
		}
		var done int64
		err := p.checkIntegrity(func(n int64) {
			done = n
			if progress != nil {
				progress(base + n)
			}
		})
		if err != nil {
			return fmt.Errorf("part %d: %w", p.hdr.Part, err)
		}
		base += done
	}
	return nil
}

// checkIntegrity is CheckIntegrity for r's own file.
func (r *Reader) checkIntegrity(progress func(done int64)) error {
	if !r.hdr.HasIntegrity {
		return nil
	}
	b, err := r.rawResource("integrity table", r.hdr.integrity, 64<<20)
	if err != nil {
		return err
	}
	if len(b) < 12 {
		return fmt.Errorf("%w: integrity table of %d bytes", ErrFormat, len(b))
	}
	le := binary.LittleEndian
	size, n, chunk := le.Uint32(b), int64(le.Uint32(b[4:])), int64(le.Uint32(b[8:]))
	start, end := integrityRange(r.hdr.blobTable)
	if int(size) != len(b) || 12+20*n != int64(len(b)) || chunk == 0 || end > r.size || (end-start+chunk-1)/chunk != n {
		return fmt.Errorf("%w: integrity table at offset %d is inconsistent (%d entries of %d bytes for %d bytes)",
			ErrFormat, r.hdr.integrity.offset, n, chunk, end-start)
	}
	var done int64
	got, err := hashRange(context.Background(), r.ra, start, end, chunk, func(k int64) {
		done += k
		if progress != nil {
			progress(done)
		}
	})
	if err != nil {
		return fmt.Errorf("wim: integrity check: %w", err)
	}
	for i, h := range got {
		if [20]byte(b[12+20*i:]) != h {
			return fmt.Errorf("%w: integrity table: bytes %d..%d of the file changed", ErrChecksum,
				start+int64(i)*chunk, min(end, start+int64(i+1)*chunk))
		}
	}
	return nil
}
