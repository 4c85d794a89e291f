package xpress

import "testing"

func TestZZStats(t *testing.T) {
	tx, bn := benchData()
	for _, data := range [][]byte{tx, bn} {
		e := NewEncoder()
		var lits, matches, mlen int
		var lh [8]int
		var oh [10]int
		for p := 0; p < len(data); p += benchChunk {
			src := data[p:min(p+benchChunk, len(data))]
			if c := e.Encode(nil, src); len(c) >= len(src) {
				continue
			}
			for _, s := range e.seqs {
				lits += int(s.lits)
				if s.length > 0 {
					matches++
					mlen += int(s.length)
					switch {
					case s.length <= 4:
						lh[0]++
					case s.length <= 8:
						lh[1]++
					case s.length <= 16:
						lh[2]++
					case s.length <= 32:
						lh[3]++
					default:
						lh[4]++
					}
					switch {
					case s.offset == 1:
						oh[0]++
					case s.offset < 8:
						oh[1]++
					case s.offset < 16:
						oh[2]++
					default:
						oh[3]++
					}
				}
			}
		}
		t.Logf("lits=%d matches=%d avglen=%.1f lenhist(<=4,8,16,32,>)=%v off(1,<8,<16,>)=%v", lits, matches, float64(mlen)/float64(matches), lh[:5], oh[:4])
	}
}
