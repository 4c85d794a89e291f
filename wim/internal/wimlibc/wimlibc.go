//go:build wimlib

package wimlibc

// #cgo LDFLAGS: -lwim
// #include <stdlib.h>
// #include <wimlib.h>
import "C"

import (
	"fmt"
	"unsafe"
)

// Compression types, as wimlib numbers them.
const (
	XPRESS = C.WIMLIB_COMPRESSION_TYPE_XPRESS
	LZX    = C.WIMLIB_COMPRESSION_TYPE_LZX
	LZMS   = C.WIMLIB_COMPRESSION_TYPE_LZMS
)

// DefaultLevel is wimlib's default compression level.
const DefaultLevel = 50

// Compress compresses data as one block with wimlib at DefaultLevel, using
// max block size max(len(data), 32768) rounded to the next power of two
// (wimlib's chunk sizes). It returns nil if wimlib could not make the data
// smaller (wimlib_compress returned 0), in which case a WIM stores it raw.
func Compress(ctype int, data []byte) ([]byte, error) {
	return CompressLevel(ctype, data, DefaultLevel)
}

// CompressLevel is Compress at the given compression level.
func CompressLevel(ctype int, data []byte, level uint) ([]byte, error) {
	return CompressBlock(ctype, data, blockSize(len(data)), level)
}

// CompressBlock compresses data with a compressor made for blocks of up to
// maxBlock bytes (a WIM's chunk size: for LZX it sets the window, so a
// resource's short last chunk uses its full chunks' window).
func CompressBlock(ctype int, data []byte, maxBlock int, level uint) ([]byte, error) {
	if len(data) == 0 {
		return nil, nil
	}
	var c *C.struct_wimlib_compressor
	if rc := C.wimlib_create_compressor(C.enum_wimlib_compression_type(ctype),
		C.size_t(maxBlock), C.uint(level), &c); rc != 0 {
		return nil, fmt.Errorf("wimlib_create_compressor: %s", C.GoString(C.wimlib_get_error_string(C.enum_wimlib_error_code(rc))))
	}
	defer C.wimlib_free_compressor(c)
	in := C.CBytes(data)
	defer C.free(in)
	avail := len(data) - 1
	out := C.malloc(C.size_t(avail + 1))
	defer C.free(out)
	n := C.wimlib_compress(in, C.size_t(len(data)), out, C.size_t(avail), c)
	if n == 0 {
		return nil, nil
	}
	return C.GoBytes(out, C.int(n)), nil
}

// Compressor is a reusable wimlib compressor, for benchmarks. It is not safe
// for concurrent use; Close frees it.
type Compressor struct {
	c   *C.struct_wimlib_compressor
	in  unsafe.Pointer
	out unsafe.Pointer
	max int
}

// NewCompressor creates a compressor for blocks of up to maxBlock bytes.
func NewCompressor(ctype int, maxBlock int, level uint) (*Compressor, error) {
	z := &Compressor{max: maxBlock}
	if rc := C.wimlib_create_compressor(C.enum_wimlib_compression_type(ctype),
		C.size_t(maxBlock), C.uint(level), &z.c); rc != 0 {
		return nil, fmt.Errorf("wimlib_create_compressor: %s", C.GoString(C.wimlib_get_error_string(C.enum_wimlib_error_code(rc))))
	}
	z.in = C.malloc(C.size_t(maxBlock))
	z.out = C.malloc(C.size_t(maxBlock))
	return z, nil
}

// Compress compresses data (len(data) <= maxBlock) and returns the
// compressed size, 0 if it did not shrink. Only the compression call itself
// runs in C; copying data in is part of the cost.
func (z *Compressor) Compress(data []byte) int {
	copy(unsafe.Slice((*byte)(z.in), z.max), data)
	return int(C.wimlib_compress(z.in, C.size_t(len(data)), z.out, C.size_t(len(data)-1), z.c))
}

// Close frees the compressor.
func (z *Compressor) Close() {
	C.wimlib_free_compressor(z.c)
	C.free(z.in)
	C.free(z.out)
}

// Decompress decompresses one block of size bytes with wimlib.
func Decompress(ctype int, data []byte, size int) ([]byte, error) {
	return DecompressBlock(ctype, data, size, blockSize(size))
}

// DecompressBlock decompresses one block of size bytes with a decompressor
// made for blocks of up to maxBlock bytes.
func DecompressBlock(ctype int, data []byte, size, maxBlock int) ([]byte, error) {
	var d *C.struct_wimlib_decompressor
	if rc := C.wimlib_create_decompressor(C.enum_wimlib_compression_type(ctype),
		C.size_t(maxBlock), &d); rc != 0 {
		return nil, fmt.Errorf("wimlib_create_decompressor: %s", C.GoString(C.wimlib_get_error_string(C.enum_wimlib_error_code(rc))))
	}
	defer C.wimlib_free_decompressor(d)
	in := C.CBytes(data)
	defer C.free(in)
	out := C.malloc(C.size_t(max(size, 1)))
	defer C.free(out)
	if rc := C.wimlib_decompress(in, C.size_t(len(data)), out, C.size_t(size), d); rc != 0 {
		return nil, fmt.Errorf("wimlib_decompress failed (%d bytes in, %d out)", len(data), size)
	}
	return C.GoBytes(out, C.int(size)), nil
}

func blockSize(n int) int {
	b := 32768
	for b < n {
		b <<= 1
	}
	return b
}

// Decompressor is a reusable wimlib decompressor, for benchmarks. It is not
// safe for concurrent use; Close frees it.
type Decompressor struct {
	d   *C.struct_wimlib_decompressor
	max int
}

// NewDecompressor creates a decompressor for blocks of up to maxBlock bytes.
func NewDecompressor(ctype int, maxBlock int) (*Decompressor, error) {
	z := &Decompressor{max: maxBlock}
	if rc := C.wimlib_create_decompressor(C.enum_wimlib_compression_type(ctype),
		C.size_t(maxBlock), &z.d); rc != 0 {
		return nil, fmt.Errorf("wimlib_create_decompressor: %s", C.GoString(C.wimlib_get_error_string(C.enum_wimlib_error_code(rc))))
	}
	return z, nil
}

// Decompress decompresses data into out, which must hold exactly the
// block's uncompressed size (1..maxBlock bytes). The buffers are passed to C
// without copying.
func (z *Decompressor) Decompress(out, data []byte) error {
	if len(out) == 0 || len(out) > z.max || len(data) == 0 {
		return fmt.Errorf("wimlibc: bad sizes %d in, %d out", len(data), len(out))
	}
	if rc := C.wimlib_decompress(unsafe.Pointer(&data[0]), C.size_t(len(data)),
		unsafe.Pointer(&out[0]), C.size_t(len(out)), z.d); rc != 0 {
		return fmt.Errorf("wimlib_decompress failed (%d bytes in, %d out)", len(data), len(out))
	}
	return nil
}

// Close frees the decompressor.
func (z *Decompressor) Close() { C.wimlib_free_decompressor(z.d) }
