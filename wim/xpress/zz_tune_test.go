//go:build wimlib

package xpress

import (
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/wim/xpress/internal/wimlibc"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_THREAD, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestZZTune(t *testing.T) {
	if os.Getenv("TUNE") == "" {
		t.Skip()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	text, bin := benchData()
	z, _ := wimlibc.NewCompressor(wimlibc.XPRESS, benchChunk, 50)
	e := NewEncoder()
	dst := make([]byte, 0, 2*MaxChunkSize)
	for _, c := range []struct {
		name string
		d    []byte
	}{{"text", text}, {"bin", bin}, {"random", randomBytes(1, 4<<20)}} {
		best := [2]time.Duration{1 << 62, 1 << 62}
		size := [2]int{}
		for range 5 {
			t0 := cpuTime()
			n := 0
			for p := 0; p < len(c.d); p += benchChunk {
				n += min(len(e.Encode(dst[:0], c.d[p:p+benchChunk])), benchChunk)
			}
			best[0] = min(best[0], cpuTime()-t0)
			size[0] = n
			t0 = cpuTime()
			n = 0
			for p := 0; p < len(c.d); p += benchChunk {
				k := z.Compress(c.d[p : p+benchChunk])
				if k == 0 {
					k = benchChunk
				}
				n += k
			}
			best[1] = min(best[1], cpuTime()-t0)
			size[1] = n
		}
		mb := func(d time.Duration) float64 { return float64(len(c.d)) / d.Seconds() / 1e6 }
		t.Logf("%-6s ours %6.1f MB/s  wimlib %6.1f MB/s  speed x%.2f  size %.4f", c.name, mb(best[0]), mb(best[1]), mb(best[0])/mb(best[1]), float64(size[0])/float64(size[1]))
	}
}
