package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/snapshot"
)

// Exit codes. They are part of the command line's contract (README,
// "Exit codes") and never change meaning.
const (
	exitOK          = 0   // success
	exitFailure     = 1   // any failure not listed below
	exitUsage       = 2   // bad command line: unknown command or flag, wrong arguments
	exitPartial     = 3   // finished, but some files were skipped (see the warnings), or prune left work
	exitNoRepo      = 10  // no repository at the given location, or one without its config
	exitLocked      = 11  // the repository is locked by another process
	exitRemote      = 12  // the repository's server refused us or could not be reached
	exitInterrupted = 130 // interrupted by SIGINT, SIGTERM or SIGHUP (128 + SIGINT)
)

// exitCodesHelp is appended to the help text of the commands that use a
// repository (and of wimsnap itself); exitCodesWIMHelp, without the codes
// only a repository gives, to that of the commands on WIM files.
const (
	exitCodesHelp    = "\nExit codes:\n" + exitCodesBase + exitCodesRepo + exitCodesSignal
	exitCodesWIMHelp = "\nExit codes:\n" + exitCodesWIMBase + exitCodesSignal
)

// exitCodesWIMBase is exitCodesBase for the commands on WIM files alone.
const exitCodesWIMBase = `  0    success
  1    failure (I/O error, malformed or corrupt WIM, unsupported feature, a
       PATH the image lacks, ...)
  2    usage error (unknown command or flag, wrong arguments, an IMAGE the
       WIM does not hold, left out when it holds none or several, or named
       by a name several images have; append's, info's or export-image's
       --name taken by another image, or append's or export-image's
       --compress other than the existing WIM's codec)
  3    partial: the command finished but skipped some files (see the warnings)
`

const exitCodesBase = `  0    success
  1    failure (I/O error, malformed or corrupt WIM, unsupported feature, a
       SNAP the repository does not hold, a PATH the image lacks, ...)
  2    usage error (unknown command or flag, wrong arguments, an IMAGE the
       WIM does not hold, left out when it holds none or several, or named
       by a name several images have; append's, info's or export-image's
       --name taken by another image, or append's or export-image's
       --compress other than the existing WIM's codec; a restore --target
       inside the repository or its local index)
  3    partial: the command finished but skipped some files (see the warnings),
       or prune left packs for a later prune, or forget skipped a snapshot
       it was given that was not there, or import stored an image holding
       entries every restore leaves out
`

const exitCodesRepo = `  10   no repository at the given location (or its S3 bucket is missing), or
       one whose config is missing (its data is there; nothing is created)
  11   the repository is locked by another process: a repair excludes
       every other command, the others (snapshot, import, restore, export,
       check, forget, prune) exclude a repair, and a prune another prune.
       A lock left by a process that died becomes stale after 30 minutes
  12   the repository's server refused the credentials or the request, its
       TLS certificate is not trusted, its host name does not resolve, or it
       could not be reached (after retries)
`

const exitCodesSignal = `  130  interrupted (SIGINT, SIGTERM or SIGHUP); nothing half-written is left behind
       (packs a snapshot or import stored before it stay, unreferenced,
       until prune removes them: 'check' counts them; the run again
       stores their data anew).
       A second signal ends the process at once, without cleaning up (the
       agent logs it and goes on stopping; see docs/agent.md)`

// usageError marks a mistake on the command line (exit 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usage error with a formatted message.
func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// partialError reports a run that completed but skipped files, or left
// work for a later run (exit 3).
type partialError struct {
	skipped int64
	what    string // what was left, instead of skipped files
}

func (e *partialError) Error() string {
	if e.what != "" {
		return e.what
	}
	// A directory that could not be read counts once, whatever it held.
	see := "see the warnings"
	if e.skipped == 1 {
		see = "see the warning"
	}
	return fmt.Sprintf("%s skipped (%s; a directory counts once, with all it holds)", countEntries(e.skipped), see)
}

// countEntries is "1 entry" or "n entries".
func countEntries(n int64) string {
	if n == 1 {
		return "1 entry"
	}
	return fmt.Sprintf("%d entries", n)
}

// partial returns a partialError when skipped > 0 and nil otherwise.
func partial(skipped int64) error {
	if skipped > 0 {
		return &partialError{skipped: skipped}
	}
	return nil
}

// exitCode maps the error a command returned to the process exit code.
// interrupted says whether a signal cancelled the run: a run that failed
// after a signal exits 130 whatever its error; one that finished anyway
// exits 0.
func exitCode(err error, interrupted bool) int {
	var ue *usageError
	var pe *partialError
	switch {
	case err == nil:
		return exitOK
	case interrupted:
		return exitInterrupted
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, &ue), errors.Is(err, snapshot.ErrTargetInRepo):
		return exitUsage
	case errors.As(err, &pe):
		return exitPartial
	case errors.Is(err, snapshot.ErrNoRepository), errors.Is(err, snapshot.ErrConfigMissing), errors.Is(err, remote.ErrNoBucket):
		return exitNoRepo
	case errors.Is(err, snapshot.ErrLocked):
		return exitLocked
	case errors.Is(err, remote.ErrDenied), errors.Is(err, remote.ErrUntrusted), errors.Is(err, remote.ErrUnavailable),
		errors.Is(err, remote.ErrNoHost):
		return exitRemote
	}
	return exitFailure
}
