//go:build wimlib

package xpress

import (
	"fmt"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/wim/xpress/internal/wimlibc"
)

func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1, &ru) // RUSAGE_THREAD
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestZZCPU(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	z, _ := wimlibc.NewCompressor(wimlibc.XPRESS, 32768, wimlibc.DefaultLevel)
	defer z.Close()
	e := NewEncoder()
	dst := make([]byte, 0, 2*MaxChunkSize)
	corp := []struct {
		name string
		data []byte
	}{{"text", textCorpus()}, {"binary", binaryCorpus()}}
	for _, c := range corp {
		var ours, theirs []float64
		osz, tsz := 0, 0
		for range 9 {
			t0 := threadCPU()
			for range 3 {
				osz = 0
				for p := 0; p < len(c.data); p += 32768 {
					osz += min(len(e.Encode(dst[:0], c.data[p:min(p+32768, len(c.data))])), min(32768, len(c.data)-p))
				}
			}
			t1 := threadCPU()
			for range 3 {
				tsz = 0
				for p := 0; p < len(c.data); p += 32768 {
					n := z.Compress(c.data[p:min(p+32768, len(c.data))])
					if n == 0 {
						n = min(32768, len(c.data)-p)
					}
					tsz += n
				}
			}
			t2 := threadCPU()
			mb := 3 * float64(len(c.data)) / 1e6
			ours = append(ours, mb/(t1-t0).Seconds())
			theirs = append(theirs, mb/(t2-t1).Seconds())
		}
		slices.Sort(ours)
		slices.Sort(theirs)
		mo, mt := ours[len(ours)/2], theirs[len(theirs)/2]
		t.Logf("%-6s ours %6.1f MB/s (max %6.1f)  wimlib %6.1f MB/s (max %6.1f)  speed ratio %.3f (max/max %.3f)  size ratio %.4f",
			c.name, mo, ours[len(ours)-1], mt, theirs[len(theirs)-1], mo/mt, ours[len(ours)-1]/theirs[len(theirs)-1], float64(osz)/float64(tsz))
	}
}

func TestZZSweep(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	z, _ := wimlibc.NewCompressor(wimlibc.XPRESS, 32768, wimlibc.DefaultLevel)
	defer z.Close()
	e := NewEncoder()
	dst := make([]byte, 0, 2*MaxChunkSize)
	corp := []struct {
		name string
		data []byte
	}{{"text", textCorpus()}, {"binary", binaryCorpus()}}
	wt := make([]float64, 2)
	wsz := make([]int, 2)
	for i, c := range corp {
		t0 := threadCPU()
		for p := 0; p < len(c.data); p += 32768 {
			n := z.Compress(c.data[p:min(p+32768, len(c.data))])
			if n == 0 {
				n = min(32768, len(c.data)-p)
			}
			wsz[i] += n
		}
		wt[i] = (threadCPU() - t0).Seconds()
	}
	for _, d := range []int{1, 2, 4, 8, 16} {
		for _, lz := range []int{0, 8, 16, 32} {
			for _, nl := range []int{16, 32, 48} {
				searchDepth, lazyLen, niceLen = d, lz, nl
				line := ""
				for i, c := range corp {
					osz := 0
					t0 := threadCPU()
					for p := 0; p < len(c.data); p += 32768 {
						osz += min(len(e.Encode(dst[:0], c.data[p:min(p+32768, len(c.data))])), min(32768, len(c.data)-p))
					}
					tt := (threadCPU() - t0).Seconds()
					line += fmt.Sprintf("  %s speed %.2f size %.4f", c.name, wt[i]/tt, float64(osz)/float64(wsz[i]))
				}
				t.Logf("d=%2d lazy=%2d nice=%2d %s", d, lz, nl, line)
			}
		}
	}
}
