//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/scheduler"
)

// TestAgentRunTotalsEnded runs a snapshot job whose snapshot reads its
// three files and then fails to store its pack (the repository's packs
// directory is a file): the "run finished" line counts the files and
// bytes read, not 0, and says that the totals are incomplete.
func TestAgentRunTotalsEnded(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "repo")
	env := map[string]string{envCacheDir: filepath.Join(dir, "cache"), "HOME": filepath.Join(dir, "home")}
	runAppOK(t, env, "init", "--compress=none", "--repo", repo)
	must(t, os.RemoveAll(filepath.Join(repo, "packs")))
	must(t, os.WriteFile(filepath.Join(repo, "packs"), nil, 0o600))
	line, last := runFailingJob(t, env, dir, repo)
	if line.FilesRead != 3 || line.BytesRead != 3*10<<10 || line.Incomplete == nil || !*line.Incomplete {
		t.Errorf("run finished: files_read %d, bytes_read %d, totals_incomplete %v; want 3, %d, true\n%s",
			line.FilesRead, line.BytesRead, line.Incomplete, 3*10<<10, last)
	}
}

// TestAgentRunTotalsBeforeCapture: a snapshot that fails before its
// capture begins (no repository there) read and stored nothing, so its
// zero totals are complete and the line does not call them incomplete.
func TestAgentRunTotalsBeforeCapture(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{envCacheDir: filepath.Join(dir, "cache"), "HOME": filepath.Join(dir, "home")}
	line, last := runFailingJob(t, env, dir, filepath.Join(dir, "no-repo"))
	if line.FilesRead != 0 || line.Incomplete != nil {
		t.Errorf("run finished: files_read %d, totals_incomplete %v; want 0 and absent\n%s", line.FilesRead, line.Incomplete, last)
	}
}

// runLine is the part of a "run finished" log line the tests check.
type runLine struct {
	Msg        string  `json:"msg"`
	Result     string  `json:"result"`
	FilesRead  int64   `json:"files_read"`
	BytesRead  int64   `json:"bytes_read"`
	Incomplete *bool   `json:"totals_incomplete"`
	Error      *string `json:"error"`
}

// runFailingJob runs once, through the agent's runner, a snapshot job of
// three 10 KiB files in dir into repo, which must fail, and returns its
// "run finished" line, parsed and as logged.
func runFailingJob(t *testing.T, env map[string]string, dir, repo string) (runLine, string) {
	t.Helper()
	src := filepath.Join(dir, "src")
	for i := range 3 {
		writeFile(t, src, fmt.Sprintf("f%d", i), randomBytes(uint64(30+i), 10<<10))
	}
	cfg, cfgDir, err := loadConfigDoc(t, fmt.Sprintf(`repository = %q
[status]
listen = "off"
[[job]]
name = "j"
sources = [%q]
schedule = "@every 6h"
`, repo, src), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.state = filepath.Join(cfgDir, "state.json")
	a, _, _ := testApp(env)
	var logged bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logged, nil))
	r := &runner{parent: a, cfg: cfg, log: log}
	o := r.execute(t.Context(), cfg.tasks[0], scheduler.Run{Kind: scheduler.Scheduled, Attempt: 1}, 0, nil)
	ag := &agent{app: a, cfg: cfg, log: log, tasks: map[string]*task{}}
	ag.logRun(o)
	var line runLine
	last := logged.String()[strings.LastIndex(strings.TrimSuffix(logged.String(), "\n"), "\n")+1:]
	if err := json.Unmarshal([]byte(last), &line); err != nil || line.Msg != "run finished" {
		t.Fatalf("last log line %q: %v", last, err)
	}
	if line.Result != resultFailed || line.Error == nil {
		t.Fatalf("the run: %s, want a failed one\n%s", last, logged.String())
	}
	return line, last
}
