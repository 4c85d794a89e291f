//go:build !windows

package main

import (
	"context"
	"errors"
)

// asService reports whether the agent runs as a Windows service: never
// here, and --service is refused.
func asService(flag bool) (bool, error) {
	if flag {
		return false, errors.New("--service: a Windows service runs only on Windows (use --log-file, or run the agent under systemd)")
	}
	return false, nil
}

func defaultServiceLog() string { return "" }

// runService is never called where asService is always false.
func runService(ctx context.Context, run func(context.Context) error) error { return run(ctx) }
