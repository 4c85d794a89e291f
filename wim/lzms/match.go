package lzms

import "encoding/binary"

// repQueue holds recent match sources, most recent first: three usable
// entries and an overflow one that receives whatever the front insertion
// pushes off while insertion is delayed (see the package comment). An LZ
// queue holds offsets; a delta queue holds power<<32 | raw offset.
type repQueue [numReps + 1]uint64

// newRepQueue returns the initial queue: 1, 2, 3, 4.
func newRepQueue() repQueue { return repQueue{1, 2, 3, 4} }

// push puts an explicit source at the front, dropping the last entry.
func (q *repQueue) push(v uint64) {
	q[3], q[2], q[1], q[0] = q[2], q[1], q[0], v
}

// take moves entry j (0..3) to the front and returns it.
func (q *repQueue) take(j uint32) uint64 {
	v := q[j&3]
	switch j & 3 {
	case 1:
		q[1] = q[0]
	case 2:
		q[2], q[1] = q[1], q[0]
	case 3:
		q[3], q[2], q[1] = q[2], q[1], q[0]
	}
	q[0] = v
	return v
}

// copySlack is how far past a match's end the fast copies may write.
const copySlack = 32

// copyMatch writes the LZ match of length bytes at offset (1..o) to out[o:],
// o+length <= len(out).
func copyMatch(out []byte, o, offset, length int) {
	from := o - offset
	switch {
	case length > len(out)-o-copySlack:
		copyBytes(out[:o+length], o, offset)
	case offset >= 8:
		// Each word read lies before the word written, so overlapping
		// copies repeat the pattern correctly.
		w := (*[32]byte)(out[o:])
		r := (*[32]byte)(out[from:])
		binary.LittleEndian.PutUint64(w[0:], binary.LittleEndian.Uint64(r[0:]))
		binary.LittleEndian.PutUint64(w[8:], binary.LittleEndian.Uint64(r[8:]))
		binary.LittleEndian.PutUint64(w[16:], binary.LittleEndian.Uint64(r[16:]))
		binary.LittleEndian.PutUint64(w[24:], binary.LittleEndian.Uint64(r[24:]))
		if length > 32 {
			copyWords(out, o+32, from+32, length-32)
		}
	default:
		copyPattern(out, o, offset, length)
	}
}

// copyWords copies n bytes from out[from:] to out[o:] in 8-byte words, from
// at least 8 bytes before o, writing up to 7 bytes more.
func copyWords(out []byte, o, from, n int) {
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(out[o+i:], binary.LittleEndian.Uint64(out[from+i:]))
	}
}

// copyPattern writes a match of length bytes at offset 1..7 to out[o:],
// repeating the offset bytes before o, in 8-byte words: it writes up to 7
// bytes past the match.
func copyPattern(out []byte, o, offset, length int) {
	// Repeat the pattern across a word, then write it at steps of a whole
	// number of periods.
	v := binary.LittleEndian.Uint64(out[o-offset:]) & (1<<(8*offset) - 1)
	for sh := uint(8 * offset); sh < 64; sh *= 2 {
		v |= v << sh
	}
	step := 8 - 8%offset
	for i := 0; i < length; i += step {
		binary.LittleEndian.PutUint64(out[o+i:], v)
	}
}

// copyBytes fills out[o:] from offset bytes back; the source may overlap the
// destination, repeating a pattern of offset bytes.
func copyBytes(out []byte, o, offset int) {
	from := o - offset
	if offset >= len(out)-o {
		copy(out[o:], out[from:o])
		return
	}
	// Each copy doubles the repeated run; the copied length stays a
	// multiple of offset, so the pattern phase is kept.
	for n := o; n < len(out); {
		n += copy(out[n:], out[from:n])
	}
}

// deltaMatch writes the delta match of length bytes with the given span and
// offset to out[o:]: each byte is the byte offset back plus the difference
// of the bytes span back from each. offset+span <= o and o+length <=
// len(out).
func deltaMatch(out []byte, o, offset, span, length int) {
	w := out[o : o+length]
	a := out[o-offset:]
	a = a[:len(w)]
	b := out[o-span:]
	b = b[:len(w)]
	c := out[o-offset-span:]
	c = c[:len(w)]
	for i := range w {
		w[i] = a[i] + b[i] - c[i]
	}
}
