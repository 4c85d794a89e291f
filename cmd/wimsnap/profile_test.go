package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestProfileFiles: the measuring variables make a run write a CPU
// profile, an execution trace and a heap profile; a file that cannot be
// created is an error, not a crash.
func TestProfileFiles(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{
		"WIMSNAP_CPUPROFILE": filepath.Join(dir, "cpu.pprof"),
		"WIMSNAP_TRACE":      filepath.Join(dir, "trace.out"),
		"WIMSNAP_MEMPROFILE": filepath.Join(dir, "mem.pprof"),
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	stop := startProfile(lookup)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"WIMSNAP_CPUPROFILE", "WIMSNAP_TRACE", "WIMSNAP_MEMPROFILE"} {
		if fi, err := os.Stat(env[k]); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", k, err)
		}
	}
	env = map[string]string{"WIMSNAP_TRACE": filepath.Join(dir, "missing", "trace.out")}
	if err := startProfile(lookup)(); err == nil {
		t.Error("a trace file that cannot be created gave no error")
	}
}
