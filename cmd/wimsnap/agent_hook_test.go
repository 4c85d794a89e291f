//go:build unix

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// logRecords decodes the JSON lines of a slog.JSONHandler.
func logRecords(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var recs []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(buf.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		recs = append(recs, m)
	}
	return recs
}

// outputLines returns the "line" attributes of the "output" records.
func outputLines(t *testing.T, buf *bytes.Buffer) []string {
	t.Helper()
	var lines []string
	for _, r := range logRecords(t, buf) {
		if r["msg"] == "output" {
			s, _ := r["line"].(string)
			lines = append(lines, s)
		}
	}
	return lines
}

// newHookLog returns a lineLog over a JSON logger writing into the buffer
// returned, as the runner's hookLog makes them.
func newHookLog() (*lineLog, *bytes.Buffer) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	return &lineLog{log: log, attrs: []any{"job", "system", "hook", "pre"}, level: slog.LevelInfo}, &buf
}

func TestRunHook(t *testing.T) {
	tests := []struct {
		name      string
		argv      []string
		env       []string
		wantErr   string // a substring of the error; "" for none
		wantIs    error  // when set, errors.Is(err, wantIs) must hold
		wantLines []string
	}{
		{name: "exit 0 with output",
			argv:      []string{"/bin/sh", "-c", `echo "one"; echo "two" >&2; echo; printf 'three\r\n'; printf "last"`},
			wantLines: []string{"one", "two", "three", "last"}},
		{name: "environment",
			argv:      []string{"/bin/sh", "-c", `echo "$WIMSNAP_JOB $WIMSNAP_HOOK $WIMSNAP_ATTEMPT"; echo "home=$HOME_OF_TEST"`},
			env:       []string{"WIMSNAP_JOB=system", "WIMSNAP_HOOK=pre", "WIMSNAP_ATTEMPT=2", "HOME_OF_TEST=hook"},
			wantLines: []string{"system pre 2", "home=hook"}},
		{name: "program and arguments without a shell",
			argv:      []string{"/bin/echo", "a b", "$HOME"},
			wantLines: []string{"a b $HOME"}},
		{name: "exit 3", argv: []string{"/bin/sh", "-c", "echo failing; exit 3"},
			wantErr: "/bin/sh: exit status 3", wantLines: []string{"failing"}},
		{name: "killed by a signal", argv: []string{"/bin/sh", "-c", "kill -KILL $$"},
			wantErr: "/bin/sh: signal: killed"},
		{name: "missing program", argv: []string{"/nonexistent/wimsnap-hook", "x"},
			wantErr: "/nonexistent/wimsnap-hook: ", wantIs: fs.ErrNotExist},
		{name: "program not on PATH", argv: []string{"wimsnap-no-such-hook"},
			wantErr: "wimsnap-no-such-hook: ", wantIs: exec.ErrNotFound},
	}
	// The agent's own environment reaches the hook, under what env adds.
	t.Setenv("HOME_OF_TEST", "agent")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, buf := newHookLog()
			err := runHook(t.Context(), tt.argv, 10*time.Second, tt.env, out)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("err = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			case tt.wantIs != nil && !errors.Is(err, tt.wantIs):
				t.Fatalf("err = %v, want errors.Is %v", err, tt.wantIs)
			}
			if got := outputLines(t, buf); !reflect.DeepEqual(got, tt.wantLines) {
				t.Errorf("lines %q, want %q", got, tt.wantLines)
			}
			for _, r := range logRecords(t, buf) {
				if r["job"] != "system" || r["hook"] != "pre" || r["level"] != "INFO" {
					t.Errorf("record %v lacks job=system hook=pre level=INFO", r)
				}
			}
		})
	}
	t.Run("agent environment", func(t *testing.T) {
		out, buf := newHookLog()
		if err := runHook(t.Context(), []string{"/bin/sh", "-c", `echo "home=$HOME_OF_TEST"`}, 10*time.Second, nil, out); err != nil {
			t.Fatal(err)
		}
		if got, want := outputLines(t, buf), []string{"home=agent"}; !reflect.DeepEqual(got, want) {
			t.Errorf("lines %q, want %q", got, want)
		}
	})
}

// processGone reports whether the process pid has exited. An orphan is
// reparented to the namespace's init, which in some containers never
// reaps it: a zombie has exited too.
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses, which may hold
	// spaces or parentheses itself.
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X')
}

// TestRunHookTimeout runs hooks that outlive their timeout and leave a
// grandchild: runHook must return soon after the timeout, saying so, with
// the grandchild gone too.
func TestRunHookTimeout(t *testing.T) {
	tests := []struct {
		name   string
		script string // $1 is the file to write the grandchild's pid to
		within time.Duration
	}{
		{name: "stops on SIGTERM", script: `sleep 600 & echo $! > "$1"; sleep 600`,
			within: 3 * time.Second},
		// "trap '' TERM" makes the shell and its children ignore SIGTERM:
		// only the SIGKILL hookKillWait later stops them.
		{name: "ignores SIGTERM", script: `trap '' TERM; sleep 600 & echo $! > "$1"; sleep 600`,
			within: hookKillWait + 3*time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pidFile := filepath.Join(t.TempDir(), "grandchild.pid")
			const timeout = time.Second
			out, _ := newHookLog()
			start := time.Now()
			err := runHook(t.Context(), []string{"/bin/sh", "-c", tt.script, "hook", pidFile}, timeout, nil, out)
			took := time.Since(start)
			if err == nil || !strings.Contains(err.Error(), "timed out after 1s") {
				t.Errorf("err = %v, want a timeout", err)
			}
			if took < timeout || took > timeout+tt.within {
				t.Errorf("runHook took %v, want %v to %v", took, timeout, timeout+tt.within)
			}
			b, err := os.ReadFile(pidFile)
			if err != nil {
				t.Fatal(err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatalf("pid file %q: %v", b, err)
			}
			for deadline := time.Now().Add(10 * time.Second); !processGone(pid); {
				if time.Now().After(deadline) {
					_ = syscall.Kill(pid, syscall.SIGKILL) // do not leave it behind
					t.Fatalf("grandchild %d still runs 10s after runHook returned", pid)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

func TestRunHookStopped(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	time.AfterFunc(200*time.Millisecond, cancel)
	out, _ := newHookLog()
	start := time.Now()
	err := runHook(ctx, []string{"/bin/sh", "-c", "sleep 600"}, time.Hour, nil, out)
	if err == nil || !strings.Contains(err.Error(), "/bin/sh: stopped") || !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want a stop wrapping context.Canceled", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("runHook took %v after a cancel at 200ms", took)
	}
}

func TestHookLineLog(t *testing.T) {
	many := strings.Repeat("line\n", maxLogLines+50)
	long := strings.Repeat("x", maxLogLine+1000)
	tests := []struct {
		name        string
		writes      []string
		wantLines   []string
		wantDropped float64 // lines_dropped of the "output truncated" record; 0 for none
	}{
		{name: "lines split across writes", writes: []string{"ab", "c\nde", "f\ng", "h"},
			wantLines: []string{"abc", "def", "gh"}},
		{name: "CR and empty lines", writes: []string{"a\r\n\n\r\n\nb\r\n"}, wantLines: []string{"a", "b"}},
		{name: "nothing", writes: nil},
		{name: "more than maxLogLines", writes: []string{many},
			wantLines: strings.Split(strings.Repeat("line\n", maxLogLines), "\n")[:maxLogLines], wantDropped: 50},
		{name: "exactly maxLogLines", writes: []string{strings.Repeat("line\n", maxLogLines)},
			wantLines: strings.Split(strings.Repeat("line\n", maxLogLines), "\n")[:maxLogLines]},
		{name: "long line is cut", writes: []string{long + "\nnext\n"},
			wantLines: []string{long[:maxLogLine], "next"}},
		{name: "long line without a newline is cut", writes: []string{long},
			wantLines: []string{long[:maxLogLine]}},
		{name: "cut inside a character", writes: []string{strings.Repeat("x", maxLogLine-1) + "é\n"},
			wantLines: []string{strings.Repeat("x", maxLogLine-1) + "\uFFFD"}},
		// Two bad bytes make one U+FFFD; a JSON handler given them as they
		// are would write two.
		{name: "invalid UTF-8", writes: []string{"ok\xff\xfebad\n"}, wantLines: []string{"ok\uFFFDbad"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, buf := newHookLog()
			for _, w := range tt.writes {
				if n, err := l.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(w))
				}
			}
			l.flush()
			if got := outputLines(t, buf); !reflect.DeepEqual(got, tt.wantLines) {
				t.Errorf("got %d lines %.200q, want %d: %.200q", len(got), got, len(tt.wantLines), tt.wantLines)
			}
			var dropped float64
			for _, r := range logRecords(t, buf) {
				if r["job"] != "system" || r["hook"] != "pre" {
					t.Errorf("record %v lacks job=system hook=pre", r)
				}
				if r["msg"] == "output truncated" {
					dropped, _ = r["lines_dropped"].(float64)
				}
			}
			if dropped != tt.wantDropped {
				t.Errorf("lines_dropped %v, want %v", dropped, tt.wantDropped)
			}
		})
	}
	t.Run("flush twice reports the drop once", func(t *testing.T) {
		l, buf := newHookLog()
		_, _ = l.Write([]byte(many))
		l.flush()
		l.flush()
		n := 0
		for _, r := range logRecords(t, buf) {
			if r["msg"] == "output truncated" {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d \"output truncated\" records, want 1", n)
		}
	})
}
