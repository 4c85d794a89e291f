package lzx

// preEncoder writes groups of code lengths the way LZX stores them: as
// differences from the previous lengths (zero in the first block of a
// chunk, which is the only block this encoder writes), coded with a
// 20-symbol pretree whose own 4-bit lengths come first.
type preEncoder struct {
	syms  []preSym
	freq  [numPreSyms]uint32
	lens  [numPreSyms]uint8
	codes [numPreSyms]uint16
}

// preSym is a pretree symbol with its extra bits: for 17 and 18 a run of
// zeros, for 19 a run of 4 or 5 equal lengths followed by a delta symbol.
type preSym struct {
	sym   uint8
	extra uint8
	delta uint8 // symbol 19 only
}

// write writes the lengths lens of one group, previous lengths all zero.
func (p *preEncoder) write(w *bitWriter, lens []uint8, cl *codeLengths) {
	p.syms = p.syms[:0]
	p.freq = [numPreSyms]uint32{}
	for i := 0; i < len(lens); {
		run := 1
		for i+run < len(lens) && lens[i+run] == lens[i] {
			run++
		}
		i += p.addRun(lens[i], run)
	}
	cl.build(p.freq[:], p.lens[:], 15)
	canonical(p.lens[:], p.codes[:])
	for _, l := range p.lens {
		w.put(uint32(l), preLenBits)
	}
	for _, s := range p.syms {
		w.put(uint32(p.codes[s.sym]), uint(p.lens[s.sym]))
		switch s.sym {
		case 17:
			w.put(uint32(s.extra), 4)
		case 18:
			w.put(uint32(s.extra), 5)
		case 19:
			w.put(uint32(s.extra), 1)
			w.put(uint32(p.codes[s.delta]), uint(p.lens[s.delta]))
		}
	}
}

// addRun codes up to run lengths equal to l and returns how many it coded.
func (p *preEncoder) addRun(l uint8, run int) int {
	d := delta(0, int(l)) // the symbol that turns the previous 0 into l
	switch {
	case l == 0 && run >= 20:
		run = min(run, 20+31)
		p.add(preSym{sym: 18, extra: uint8(run - 20)})
	case l == 0 && run >= 4:
		run = min(run, 4+15)
		p.add(preSym{sym: 17, extra: uint8(run - 4)})
	case run >= 4:
		run = min(run, 5)
		p.add(preSym{sym: 19, extra: uint8(run - 4), delta: d})
		p.freq[d]++
	default:
		for range run {
			p.add(preSym{sym: d})
		}
	}
	return run
}

func (p *preEncoder) add(s preSym) {
	p.syms = append(p.syms, s)
	p.freq[s.sym]++
}
