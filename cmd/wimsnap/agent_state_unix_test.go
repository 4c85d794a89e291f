//go:build unix

package main

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAgentStateSpecialFiles: a state path that is a symlink has its
// target written and stays a symlink; a FIFO (as a device would be) is
// refused and left in place, not replaced by a regular file.
func TestAgentStateSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	st := &agentState{Version: agentStateVersion, Tasks: map[string]*taskState{"system": {LastResult: resultSuccess}}}
	target, link := filepath.Join(dir, "real.json"), filepath.Join(dir, "agent.json")
	if err := os.Symlink("real.json", link); err != nil {
		t.Fatal(err)
	}
	if err := st.write(link); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced: %v", err)
	}
	if got, err := readAgentState(target); err != nil || !reflect.DeepEqual(got, st) {
		t.Errorf("through the symlink: %+v, %v", got, err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if err := st.write(fifo); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("state written over a FIFO: %v", err)
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced: %v", err)
	}
}

// TestAgentStatusNotAnAgent: a server that answers /status with JSON that
// is not an agent's status document is refused (exit 1), in text and with
// --json, instead of being shown as an agent with no jobs.
func TestAgentStatusNotAnAgent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"hello": 1}`))
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	for _, json := range []bool{false, true} {
		args := []string{"agent", "status", "--address", ln.Addr().String()}
		if json {
			args = append(args, "--json")
		}
		code, out, errb := runApp(t, nil, args...)
		if code != exitFailure || !strings.Contains(errb+out, "not a status document") || strings.Contains(out, "hello") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, errb)
		}
	}
}
