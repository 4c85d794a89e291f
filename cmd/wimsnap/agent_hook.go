package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"
)

// hookKillWait is how long a hook that timed out or was cancelled, and its
// children, get between SIGTERM and SIGKILL; it also bounds the wait for
// output pipes a leftover grandchild holds open.
const hookKillWait = 5 * time.Second

// runHook runs the hook argv with the agent's environment plus env, its
// output written to out, and waits for it at most timeout. The hook runs
// in its own process group: on timeout or when ctx is done the whole
// group gets SIGTERM, then SIGKILL after hookKillWait. A hook that exits
// with a status other than 0, or is killed, is an error that says so. A
// process the hook leaves running keeps running; if it holds the hook's
// output open, the output is cut hookKillWait after the hook exits.
func runHook(ctx context.Context, argv []string, timeout time.Duration, env []string, out io.Writer) error {
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(hctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = hookKillWait
	setProcessGroup(cmd)
	cmd.Cancel = func() error { return stopProcessGroup(cmd) }
	if f, ok := out.(interface{ flush() }); ok {
		defer f.flush()
	}
	err := cmd.Run()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState != nil && cmd.ProcessState.Success():
		// The hook exited 0 but left a process holding its output open
		// (a daemon it started): its output is cut, the hook succeeded.
		return nil
	case errors.Is(hctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil:
		return fmt.Errorf("%s: timed out after %s and was killed", argv[0], timeout)
	case ctx.Err() != nil:
		return fmt.Errorf("%s: stopped: %w", argv[0], ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("%s: %s", argv[0], ee.ProcessState)
	}
	return fmt.Errorf("%s: %w", argv[0], err)
}
