package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/wim"
)

const verifyHelp = `
Check WIMFILE: its integrity table (when it has one), every image's
metadata, that every stream an image references exists, and the SHA-1 of
every stream. Any problem exits with code 1. Of a split WIM, every part is
checked (see 'wimsnap apply --help' for how they are found).

With --json, stdout receives one document (also when the check fails):
  {"wim", "ok", "error", "images", "integrity", "bytes", "duration_seconds"}
"error" is "" when "ok" is true; "bytes" is the amount checked.`

func (a *app) newVerifyCommand() *cobra.Command {
	var refs []string
	cmd := &cobra.Command{
		Use:   "verify WIMFILE",
		Short: "Check a WIM file's integrity",
		Long:  longWIM(verifyHelp),
		Args:  argsBetween(1, 1),
		RunE: a.body(func(ctx context.Context, _ *cobra.Command, args []string) error {
			return a.runVerify(ctx, args[0], refs)
		}),
	}
	addRefFlag(cmd, &refs)
	return cmd
}

// verifySummary is the --json document of verify.
type verifySummary struct {
	WIM             string  `json:"wim"`
	OK              bool    `json:"ok"`
	Error           string  `json:"error"`
	Images          int     `json:"images"`
	Integrity       bool    `json:"integrity"`
	Bytes           int64   `json:"bytes"`
	DurationSeconds float64 `json:"duration_seconds"`
}

func (a *app) runVerify(ctx context.Context, name string, refs []string) error {
	start := a.now()
	sum := verifySummary{WIM: name}
	r, done, err := openWIMSet(name, refs, true)
	if err == nil {
		defer done()
		sum.Images, sum.Integrity = r.ImageCount(), r.Header().HasIntegrity
		tr := &verifyTracker{start: start, now: a.now}
		status := a.newStatus()
		status.start(tr.render)
		err = runCancellable(ctx, func() error { return verifyWIM(r, name, tr) })
		status.finish()
		sum.Bytes = tr.bytes()
	}
	if err != nil {
		err = fmt.Errorf("verify: %w", err)
		sum.Error = shown(err)
	}
	sum.OK = err == nil
	sum.DurationSeconds = seconds(a.now().Sub(start))
	if a.json {
		if werr := writeJSON(a.stdout, sum); werr != nil && err == nil {
			return werr
		}
	} else if err == nil {
		fmt.Fprintf(a.stdout, "%s: OK, %s, %s checked\n", name, plural(sum.Images, "image"), formatBytes(sum.Bytes))
	}
	return err
}

// verifyWIM runs r.Verify; its error names the WIM, as an error of the
// open does, unless it names the file at fault already (a part of a
// split WIM, which need not be the part named, or a --ref WIM).
func verifyWIM(r *wim.Reader, name string, tr *verifyTracker) error {
	err := deltaHint(r, r.Verify(tr.update))
	if fe := (*wim.FileError)(nil); err == nil || errors.As(err, &fe) {
		return err
	}
	return fmt.Errorf("%s: %w", name, err)
}

// runCancellable runs fn, which cannot be stopped, and returns its error,
// or ctx's as soon as ctx is done: the process is about to exit then, and
// fn's goroutine with it.
func runCancellable(ctx context.Context, fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
