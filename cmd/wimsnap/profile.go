package main

import (
	"os"
	"runtime/pprof"
)

// startProfile writes a CPU profile to the file named by the environment
// variable WIMSNAP_CPUPROFILE, and a heap profile at the end to the file
// named by WIMSNAP_MEMPROFILE, for measuring; the returned function stops
// them. Without the variables it does nothing.
func startProfile(lookup lookupFunc) func() {
	stopCPU := startCPUProfile(lookup)
	return func() {
		stopCPU()
		if path, ok := lookup("WIMSNAP_MEMPROFILE"); ok && path != "" {
			if f, err := os.Create(path); err == nil {
				_ = pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		}
	}
}

func startCPUProfile(lookup lookupFunc) func() {
	path, ok := lookup("WIMSNAP_CPUPROFILE")
	if !ok || path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
