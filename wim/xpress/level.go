package xpress

// fastBelow is the lowest level NewEncoderLevel gives the default encoder.
const fastBelow = 35

// NewEncoderLevel returns an Encoder for a wimlib compression level, which
// wimlib scales so that 20 is quick, 50 (the default) medium and 100 high
// compression. The mapping, the only one in the module:
//
//	level < 35   NewFastEncoder
//	level >= 35  NewEncoder
//
// A level of 0 or less means the default, 50.
func NewEncoderLevel(level int) *Encoder {
	if level > 0 && level < fastBelow {
		return NewFastEncoder()
	}
	return NewEncoder()
}
