//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestJSONOutcome runs every command with --json, in success, partial,
// usage error and failure cases, and checks that stdout is one JSON
// object, holding "error" and "exit_code" (the process's) exactly when the
// exit code is not 0, whether the command failed before its own document
// or after it, with no null member, "warnings_total" beside "warnings",
// and a repository command's naming its "repository".
func TestJSONOutcome(t *testing.T) {
	env := testRepoEnv(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, src, "a", []byte("hello"))
	writeFile(t, src, "d/b", []byte("world"))
	w := filepath.Join(dir, "x.wim")
	bad := filepath.Join(dir, "bad.wim")
	writeFile(t, dir, "bad.wim", []byte("garbage"))
	cfg := writeConfig(t, dir, "repository = \""+env[envRepository]+"\"\n[[job]]\nname = \"j\"\nschedule = \"@daily\"\nsources = [\""+src+"\"]\n[job.retention]\nkeep-last = 3\n")
	norepo := "--repo=" + filepath.Join(dir, "norepo")
	at := func(name string) string { return filepath.Join(dir, name) }

	tests := []struct {
		name string
		args []string
		code int
	}{
		{"capture", []string{"capture", src, w}, exitOK},
		{"append", []string{"append", src, w, "--name=two"}, exitOK},
		{"append taken name", []string{"append", src, w, "--name=two"}, exitUsage},
		{"apply", []string{"apply", w, "1", at("t1")}, exitOK},
		{"apply no such image", []string{"apply", w, "9", at("t2")}, exitUsage},
		{"extract", []string{"extract", w, "1", "/a", "--dest-dir=" + at("t3")}, exitOK},
		{"extract missing path", []string{"extract", w, "1", "/zz", "--dest-dir=" + at("t3")}, exitFailure},
		{"info", []string{"info", w}, exitOK},
		{"info missing file", []string{"info", at("nosuch.wim")}, exitFailure},
		{"info rename", []string{"info", w, "2", "--name=second", "--boot"}, exitOK},
		{"dir", []string{"dir", w, "1"}, exitOK},
		{"dir detailed", []string{"dir", w, "1", "--detailed"}, exitOK},
		{"verify", []string{"verify", w}, exitOK},
		{"verify malformed", []string{"verify", bad}, exitFailure},
		{"optimize", []string{"optimize", w}, exitOK},
		{"optimize output", []string{"optimize", w, "--output=" + at("o.wim"), "--image=1"}, exitOK},
		{"split", []string{"split", w, at("sp.swm"), "1"}, exitOK},
		{"split bad size", []string{"split", w, at("sp2.swm"), "64K"}, exitUsage},
		{"export-image", []string{"export-image", w, "1", at("ei.wim")}, exitOK},
		{"export-image taken name", []string{"export-image", w, "1", at("ei.wim")}, exitUsage},
		{"delete", []string{"delete", at("ei.wim"), "1"}, exitOK},
		{"delete no such image", []string{"delete", at("ei.wim"), "9"}, exitUsage},
		{"init", []string{"init", "--repo=" + at("repo2")}, exitOK},
		{"init again", []string{"init", "--repo=" + at("repo2")}, exitFailure},
		{"snapshot", []string{"snapshot", src}, exitOK},
		{"snapshot no repository", []string{"snapshot", src, norepo}, exitNoRepo},
		{"snapshots", []string{"snapshots"}, exitOK},
		{"ls", []string{"ls", "latest"}, exitOK},
		{"ls missing path", []string{"ls", "latest", "/nope"}, exitFailure},
		{"diff", []string{"diff", "latest", "latest"}, exitOK},
		{"diff one snapshot", []string{"diff", "latest"}, exitUsage},
		{"diff no such snapshot", []string{"diff", "latest", "ffff"}, exitFailure},
		{"restore", []string{"restore", "latest", "--target=" + at("r")}, exitOK},
		{"restore no such snapshot", []string{"restore", "ffff", "--target=" + at("r")}, exitFailure},
		{"export", []string{"export", "latest", at("e.wim")}, exitOK},
		{"export no such snapshot", []string{"export", "ffff", at("e2.wim")}, exitFailure},
		{"import", []string{"import", w}, exitOK},
		{"import malformed", []string{"import", bad}, exitFailure},
		{"check", []string{"check", "--read-data"}, exitOK},
		{"rebuild-index", []string{"rebuild-index"}, exitOK},
		{"stats", []string{"stats"}, exitOK},
		{"forget dry run", []string{"forget", "--keep-last=1", "--dry-run"}, exitOK},
		{"forget, nothing matches", []string{"forget", "--keep-last=1", "--host=nobody"}, exitOK},
		{"forget and prune", []string{"forget", "--keep-last=5", "--prune"}, exitOK},
		{"forget missing snapshot", []string{"forget", "deadbeef"}, exitPartial},
		{"forget missing snapshot and prune", []string{"forget", "deadbeef", "--prune"}, exitPartial},
		{"prune", []string{"prune"}, exitOK},
		{"repair dry run", []string{"repair", "--dry-run"}, exitOK},
		{"unlock", []string{"unlock"}, exitOK},
		{"unlock no repository", []string{"unlock", norepo}, exitNoRepo},
		{"agent check-config", []string{"agent", "--check-config", "--config=" + cfg}, exitOK},
		{"agent missing config", []string{"agent", "--check-config", "--config=" + at("no.toml")}, exitUsage},
		{"agent status, none", []string{"agent", "status", "--address=127.0.0.1:1"}, exitFailure},
		{"version", []string{"version"}, exitOK},
		{"version with an argument", []string{"version", "x"}, exitUsage},
		{"unknown flag", []string{"stats", "--bogus"}, exitUsage},
		{"unknown command", []string{"frob"}, exitUsage},
	}
	covered := map[string]bool{}
	var warned []string // commands whose document has "warnings"
	root := (&app{}).newRootCommand()
	takesRepo := func(args []string) bool {
		c, _, err := root.Find(args)
		return err == nil && c.Flags().Lookup("repo") != nil
	}
	for _, tt := range tests {
		covered[tt.args[0]] = true
		t.Run(tt.name, func(t *testing.T) {
			code, out, errb := runApp(t, env, append(tt.args, "--json")...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, errb)
			}
			var doc map[string]any
			dec := json.NewDecoder(strings.NewReader(out))
			if err := dec.Decode(&doc); err != nil || dec.More() {
				t.Fatalf("stdout is not one JSON object (%v): %q", err, out)
			}
			for k, v := range doc {
				if v == nil {
					t.Errorf("%q is null (an empty list is [], an absent value left out):\n%s", k, out)
				}
			}
			if _, ok := doc["warnings"]; ok {
				if !slices.Contains(warned, tt.args[0]) {
					warned = append(warned, tt.args[0])
				}
				if _, ok := doc["warnings_total"].(float64); !ok {
					t.Errorf("the document has warnings and no warnings_total:\n%s", out)
				}
			}
			if code == exitOK {
				for _, k := range undocumentedKeys(doc, jsonHelp(root, tt.args)) {
					t.Errorf("the document's %q is not named in --help:\n%s", k, out)
				}
			}
			if _, ok := doc["repository"].(string); code == exitOK && takesRepo(tt.args) && !ok {
				t.Errorf("the document of a repository command does not name its repository:\n%s", out)
			}
			exit, hasExit := doc["exit_code"]
			msg, _ := doc["error"].(string)
			switch {
			case code == exitOK && hasExit:
				t.Errorf("exit 0, yet the document has exit_code %v", exit)
			case code != exitOK && (exit != float64(code) || msg == ""):
				t.Errorf("exit %d: document has exit_code %v, error %q; want both:\n%s", code, exit, msg, out)
			}
		})
	}
	for _, c := range root.Commands() {
		if c.Name() != "help" && !covered[c.Name()] {
			t.Errorf("command %s has no case", c.Name())
		}
	}
	if doc := documentedWarnings(t); !slices.Equal(doc, slices.Sorted(slices.Values(warned))) {
		t.Errorf("README-commands.md lists %q as the commands whose document has warnings; they are %q", doc, warned)
	}
}

// jsonHelp returns the --help text that describes the --json document of
// the command line args: the command's own, and that of the command whose
// document it shares or holds (append's is capture's, extract's apply's,
// forget --prune's holds prune's).
func jsonHelp(root *cobra.Command, args []string) string {
	c, _, err := root.Find(args)
	if err != nil {
		return ""
	}
	shares := map[string]string{"append": "capture", "extract": "apply", "forget": "prune"}
	help := c.Long
	if other, ok := shares[c.Name()]; ok {
		if o, _, err := root.Find([]string{other}); err == nil {
			help += o.Long
		}
	}
	return help
}

// undocumentedKeys returns, sorted, the keys of doc (and of the objects
// nested in it, in lists too) that help does not name in quotes.
func undocumentedKeys(doc map[string]any, help string) []string {
	var missing []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if !strings.Contains(help, `"`+k+`"`) && !slices.Contains(missing, k) {
					missing = append(missing, k)
				}
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(doc)
	slices.Sort(missing)
	return missing
}

// documentedWarnings returns, sorted, the commands README-commands.md
// names in its sentence on the documents that hold warnings.
func documentedWarnings(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("README-commands.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(b)), " ")
	_, after, ok := strings.Cut(text, "Warnings go into the document's `warnings` array")
	sentence, _, _ := strings.Cut(after, "(and ")
	if !ok {
		t.Fatal("README-commands.md does not say which documents hold warnings")
	}
	var out []string
	for _, m := range regexp.MustCompile("`([a-z-]+)`").FindAllStringSubmatch(sentence, -1) {
		if m[1] != "warnings_total" {
			out = append(out, m[1])
		}
	}
	slices.Sort(out)
	return out
}

// TestJSONHelp: the help of every command says what --json prints.
func TestJSONHelp(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Name() != "help" && !strings.Contains(sub.Long, "--json") {
				t.Errorf("%s --help does not say what --json prints", sub.CommandPath())
			}
			walk(sub)
		}
	}
	walk((&app{}).newRootCommand())
}

// TestRebuildIndexWarningsJSON: the damaged index object rebuild-index
// leaves out is warned about in its --json document, as it is on stderr
// without --json, not dropped, and so is the snapshot whose image it
// described, which cannot be restored now: exit 1.
func TestRebuildIndexWarningsJSON(t *testing.T) {
	env := testRepoEnv(t)
	objs, err := filepath.Glob(filepath.Join(env[envRepository], "index", "*"))
	if err != nil || len(objs) == 0 {
		t.Fatalf("no index objects: %v", err)
	}
	must(t, os.WriteFile(objs[0], []byte("garbage"), 0o600))
	var doc struct {
		Damaged       int       `json:"damaged"`
		Unindexed     int       `json:"unindexed_snapshots"`
		Warnings      []warning `json:"warnings"`
		WarningsTotal int64     `json:"warnings_total"`
	}
	code, out, _ := runApp(t, env, "rebuild-index", "--json")
	must(t, json.Unmarshal([]byte(out), &doc))
	if code != exitFailure || doc.Damaged != 1 || doc.Unindexed != 1 || doc.WarningsTotal != 2 || len(doc.Warnings) != 2 ||
		!strings.Contains(doc.Warnings[0].Error, filepath.Base(objs[0])) || !strings.Contains(doc.Warnings[1].Error, "cannot be restored") {
		t.Errorf("rebuild-index --json of a damaged index object: exit %d\n%s", code, out)
	}
}

// TestJSONInterrupted: an interrupted run's --json document says
// "interrupted", as stderr does, with exit_code 130.
func TestJSONInterrupted(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "src/a", []byte("hello"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	a, out, errb := testApp(nil)
	code := a.run(ctx, []string{"capture", filepath.Join(dir, "src"), filepath.Join(dir, "x.wim"), "--json"})
	var doc failureDoc
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || code != exitInterrupted || doc.ExitCode != exitInterrupted || doc.Error != "interrupted" {
		t.Errorf("exit %d, stdout %q (%v), stderr %q", code, out, err, errb)
	}

	// An apply stopped once begun says, there too, that the target is
	// not complete.
	wimFile := filepath.Join(dir, "y.wim")
	runAppOK(t, nil, "capture", filepath.Join(dir, "src"), wimFile)
	a, out, errb = testApp(nil)
	code = a.run(ctx, []string{"apply", wimFile, filepath.Join(dir, "target"), "--json"})
	doc = failureDoc{}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || code != exitInterrupted ||
		!strings.Contains(doc.Error, "not complete") || "wimsnap: "+doc.Error+"\n" != errb.String() {
		t.Errorf("apply: exit %d, stdout %q (%v), stderr %q; want the same message", code, out, err, errb)
	}
}

// TestWithOutcome: the members a failed run adds keep the document's own
// members, their order and its layout, and text that is not one JSON
// object is left alone.
func TestWithOutcome(t *testing.T) {
	var doc bytes.Buffer
	must(t, writeJSON(&doc, map[string]any{"a": []int{1, 2}, "b": "<x&y>", "error": ""}))
	got, ok := withOutcome(doc.Bytes(), "a <b> failed", 3)
	want := "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": \"<x&y>\",\n  \"error\": \"a <b> failed\",\n  \"exit_code\": 3\n}\n"
	if !ok || string(got) != want {
		t.Errorf("withOutcome = %q, %v; want %q", got, ok, want)
	}
	got, _ = withOutcome([]byte(`{"error": "own", "exit_code": 0}`), "other", 1)
	if !bytes.Contains(got, []byte(`"error": "own"`)) || !bytes.Contains(got, []byte(`"exit_code": 1`)) {
		t.Errorf("withOutcome over error and exit_code: %s", got)
	}
	got, _ = withOutcome([]byte(`{"error": "context canceled"}`), "interrupted", exitInterrupted)
	if !bytes.Contains(got, []byte(`"error": "interrupted"`)) {
		t.Errorf("withOutcome of an interrupted run: %s", got)
	}
	for _, text := range []string{"Usage: wimsnap\n", "[1, 2]\n", "{} {}\n", `{"a": }`} {
		if _, ok := withOutcome([]byte(text), "x", 1); ok {
			t.Errorf("withOutcome(%q) took it for an object", text)
		}
	}
}

// failWriter fails every write, as stdout on a full disk does.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// TestJSONWriteError: a --json document that cannot be written, held
// until the end of the run, still fails the run (exit 1) and says why.
func TestJSONWriteError(t *testing.T) {
	a, _, errb := testApp(nil)
	a.stdout = failWriter{}
	if code := a.run(t.Context(), []string{"init", "--repo=" + filepath.Join(t.TempDir(), "repo"), "--json"}); code != exitFailure ||
		!strings.Contains(errb.String(), "no space left") {
		t.Errorf("exit %d, stderr %q; want %d and the write error", code, errb, exitFailure)
	}
}
