package main

import (
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"runtime/trace"
)

// startProfile writes a CPU profile to the file named by the environment
// variable WIMSNAP_CPUPROFILE, an execution trace (go tool trace) to the
// file named by WIMSNAP_TRACE, and a heap profile at the end to the file
// named by WIMSNAP_MEMPROFILE, for measuring; the returned function stops
// them and returns what went wrong with any file. Without the variables
// it does nothing.
func startProfile(lookup lookupFunc) func() error {
	stopCPU := startCPUProfile(lookup)
	stopTrace := startTrace(lookup)
	return func() error {
		err := errors.Join(stopCPU(), stopTrace())
		if path, ok := lookup("WIMSNAP_MEMPROFILE"); ok && path != "" {
			err = errors.Join(err, writeHeapProfile(path))
		}
		return err
	}
}

func startCPUProfile(lookup lookupFunc) func() error {
	path, ok := lookup("WIMSNAP_CPUPROFILE")
	if !ok || path == "" {
		return func() error { return nil }
	}
	f, err := os.Create(path)
	if err != nil {
		return func() error { return fmt.Errorf("CPU profile: %w", err) }
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return func() error { return fmt.Errorf("CPU profile: %w", errors.Join(err, f.Close())) }
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("CPU profile: %w", err)
		}
		return nil
	}
}

func startTrace(lookup lookupFunc) func() error {
	path, ok := lookup("WIMSNAP_TRACE")
	if !ok || path == "" {
		return func() error { return nil }
	}
	f, err := os.Create(path)
	if err != nil {
		return func() error { return fmt.Errorf("trace: %w", err) }
	}
	if err := trace.Start(f); err != nil {
		return func() error { return fmt.Errorf("trace: %w", errors.Join(err, f.Close())) }
	}
	return func() error {
		trace.Stop()
		if err := f.Close(); err != nil {
			return fmt.Errorf("trace: %w", err)
		}
		return nil
	}
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	err = pprof.Lookup("heap").WriteTo(f, 0)
	if err = errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	return nil
}
