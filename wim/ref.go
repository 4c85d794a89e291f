package wim

// A delta WIM (wimlib-imagex capture or append with --delta-from) holds
// only the streams that the WIMs it was made against lack; its images
// name the others too, and their resources lie in those WIMs. AddRef gives
// a Reader the streams of such a WIM, as wimlib-imagex's --ref does, after
// which it reads the images whole. Each WIM's file is read in place,
// through its own Reader.

// AddRef adds the streams of p, another WIM, that r lacks: OpenStream,
// HasStream and StreamSize find them from then on, read from p's file, and
// Metadata sizes them. The images stay r's alone, and a stream r holds
// stays r's. Adding r itself, or a WIM twice, changes nothing. AddRef is
// called before r is read: it is not safe while other goroutines use r,
// and SolidOrder ranks the streams known at its first call. The parts of
// a split WIM go through AddPart, which checks that they belong together.
func (r *Reader) AddRef(p *Reader) {
	for _, b := range p.blobs {
		r.addBlob(b)
	}
}
