package main

import (
	"errors"
	"fmt"
	"io"
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
	return startToFile(lookup, "WIMSNAP_CPUPROFILE", "CPU profile", pprof.StartCPUProfile, pprof.StopCPUProfile)
}

func startTrace(lookup lookupFunc) func() error {
	return startToFile(lookup, "WIMSNAP_TRACE", "trace", trace.Start, trace.Stop)
}

// startToFile starts writing what (a profile, a trace) with start to the
// file that the environment variable env names, and returns the function
// that stops it and closes the file. Without the variable it does nothing.
func startToFile(lookup lookupFunc, env, what string, start func(io.Writer) error, stop func()) func() error {
	path, ok := lookup(env)
	if !ok || path == "" {
		return func() error { return nil }
	}
	f, err := os.Create(path)
	if err != nil {
		return func() error { return fmt.Errorf("%s: %w", what, err) }
	}
	if err := start(f); err != nil {
		return func() error { return fmt.Errorf("%s: %w", what, errors.Join(err, f.Close())) }
	}
	return func() error {
		stop()
		if err := f.Close(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
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
