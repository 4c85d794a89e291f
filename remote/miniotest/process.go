package miniotest

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stopGrace is how long a stopping server may take to exit after SIGTERM
// before it is killed.
const stopGrace = 5 * time.Second

// errExitZero means that a process exited with status 0.
var errExitZero = errors.New("exit status 0")

// process is a running child process whose output goes to log.
type process struct {
	cmd  *exec.Cmd
	log  tail
	done chan struct{} // closed once the process has exited
	err  error         // the result of cmd.Wait, set before done is closed
}

// launch starts bin with args and env, its stdout and stderr captured in
// the process's log, and registers a cleanup that stops it and, if the
// test failed, logs its output. The process is killed if the test binary
// dies (on Linux; see sysProcAttr).
func launch(t testing.TB, bin string, env []string, args ...string) *process {
	t.Helper()
	p := &process{done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = env
	p.cmd.Stdout = &p.log
	p.cmd.Stderr = &p.log
	p.cmd.SysProcAttr = sysProcAttr()
	p.cmd.WaitDelay = stopGrace
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if p.stop() {
			t.Logf("%s did not exit within %v of SIGTERM and was killed", bin, stopGrace)
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", strings.Join(p.cmd.Args, " "), p.log.String())
		}
	})
	return p
}

// exited reports whether the process has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitErr returns why the exited process ended: the error of cmd.Wait, or
// errExitZero if it exited with status 0.
func (p *process) exitErr() error {
	<-p.done
	if p.err == nil {
		return errExitZero
	}
	return p.err
}

// stop sends SIGTERM, waits up to stopGrace for the process to exit, then
// kills it, and returns once it has exited. It reports whether the kill
// was needed. Stopping an exited process does nothing.
func (p *process) stop() (killed bool) {
	if p.exited() {
		return false
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err == nil || errors.Is(err, os.ErrProcessDone) {
		select {
		case <-p.done:
			return false
		case <-time.After(stopGrace):
		}
	}
	_ = p.cmd.Process.Kill() // fails only if the process has exited meanwhile
	<-p.done
	return true
}

// childEnv returns the environment for a child process: this process's
// environment without the variables named in drop (exact names, or
// prefixes when they end in '*'), followed by set ("NAME=value" entries).
func childEnv(drop []string, set ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !dropped(name, drop) {
			env = append(env, kv)
		}
	}
	return append(env, set...)
}

// dropped reports whether name matches one of the patterns of childEnv.
func dropped(name string, drop []string) bool {
	for _, d := range drop {
		if prefix, ok := strings.CutSuffix(d, "*"); ok && strings.HasPrefix(name, prefix) || name == d {
			return true
		}
	}
	return false
}
