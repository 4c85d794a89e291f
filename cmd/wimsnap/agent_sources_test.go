package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// TestAgentConfigDuplicateSources: a job that lists one path twice, also
// in two spellings that clean to one (on Windows also in two letter
// cases; elsewhere those are two paths), is a config error naming the job
// and the path; sources are cleaned, so that forget's --path matches the
// source its snapshots record.
func TestAgentConfigDuplicateSources(t *testing.T) {
	sep := string(filepath.Separator)
	root := filepath.VolumeName(os.TempDir()) + sep
	a, aSlash := filepath.Join(root, "a"), filepath.Join(root, "a")+sep
	type dupCase struct {
		name    string
		sources []string
		want    string // the error, after "job[1].sources: "; "" for none
		clean   []string
	}
	upper := filepath.Join(root, "A")
	caseDiffers := dupCase{name: "letter case differs", sources: []string{a, upper}, clean: []string{a, upper}}
	if runtime.GOOS == "windows" { // paths compare case-insensitively
		caseDiffers = dupCase{name: caseDiffers.name, sources: caseDiffers.sources, want: `job "sys" lists ` + upper + " twice"}
	}
	tests := []dupCase{
		{name: "distinct", sources: []string{a, filepath.Join(root, "b")}, clean: []string{a, filepath.Join(root, "b")}},
		{name: "trailing separator cleaned", sources: []string{aSlash}, clean: []string{a}},
		{name: "same path twice", sources: []string{a, a}, want: `job "sys" lists ` + a + " twice"},
		{name: "same path after cleaning", sources: []string{a, aSlash}, want: `job "sys" lists ` + a + " twice"},
		{name: "dot segments", sources: []string{filepath.Join(root, "a", "b"), a + sep + "." + sep + "b"},
			want: `job "sys" lists ` + filepath.Join(root, "a", "b") + " twice"},
		{name: "relative and absolute", sources: []string{"src", "{dir}" + sep + "src" + sep},
			want: `job "sys" lists {dir}` + sep + "src twice"},
		caseDiffers,
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			var quoted []string
			for _, s := range tt.sources {
				quoted = append(quoted, tomlString(strings.ReplaceAll(s, "{dir}", dir)))
			}
			doc := "[[job]]\nname = \"sys\"\nschedule = \"@every 6h\"\nsources = [" + strings.Join(quoted, ", ") + "]\n"
			c, err := loadConfigIn(t, dir, doc)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if got := c.tasks[0].sources; !reflect.DeepEqual(got, tt.clean) {
					t.Errorf("sources %q, want %q", got, tt.clean)
				}
				return
			}
			want := "job[1].sources: " + strings.ReplaceAll(tt.want, "{dir}", dir)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v\nwant one containing %q", err, want)
			}
		})
	}
}

// TestAgentReloadDuplicateSources: a reload to a config whose job lists a
// path twice is refused, the error naming the job and the path, and the
// running job keeps its sources.
func TestAgentReloadDuplicateSources(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	job := func(sources ...string) string {
		return "[[job]]\nname = \"sys\"\nschedule = \"@every 6h\"\nsources = [" + strings.Join(sources, ", ") + "]\n"
	}
	cfg, err := loadConfigIn(t, dir, job(tomlString(src)))
	if err != nil {
		t.Fatal(err)
	}
	a, _, _ := testApp(nil)
	var logged bytes.Buffer
	ag := &agent{app: a, cfg: cfg, log: slog.New(slog.NewJSONHandler(&logged, nil)), tasks: map[string]*task{},
		state: &agentState{Tasks: map[string]*taskState{}}, board: newBoard(agentInfo{})}
	ag.setTasks(cfg)

	if err := os.WriteFile(cfg.path, []byte(job(tomlString(src), tomlString(src+string(filepath.Separator)))), 0o600); err != nil {
		t.Fatal(err)
	}
	ag.reload()
	want := `job[1].sources: job \"sys\" lists ` + strings.ReplaceAll(src, `\`, `\\`) + " twice"
	if !strings.Contains(logged.String(), "reload refused") || !strings.Contains(logged.String(), want) {
		t.Errorf("log:\n%s\nwant a refused reload with %q", logged.String(), want)
	}
	if got := ag.tasks["sys"].cfg.sources; !reflect.DeepEqual(got, []string{src}) {
		t.Errorf("sources after the refused reload: %q", got)
	}
}

// loadConfigIn writes doc as dir/agent.toml and loads it.
func loadConfigIn(t *testing.T, dir, doc string) (*agentConfig, error) {
	t.Helper()
	p := filepath.Join(dir, "agent.toml")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	a, _, _ := testApp(nil)
	return a.loadAgentConfig(p)
}

// tomlString quotes s as a TOML literal string (no escapes: Windows paths).
func tomlString(s string) string { return "'" + s + "'" }

// TestSamePath: paths differing in letter case are one path only when
// case is folded, as on Windows; otherwise two.
func TestSamePath(t *testing.T) {
	tests := []struct {
		a, b       string
		fold, want bool
	}{
		{`C:\Data`, `C:\Data`, false, true},
		{`C:\Data`, `c:\data`, false, false},
		{`C:\Data`, `c:\data`, true, true},
		{`C:\Data`, `C:\Date`, true, false},
		{"/srv/Ä", "/srv/ä", true, true},
		{"/srv/a", "/srv/A", false, false},
	}
	for _, tt := range tests {
		if got := samePath(tt.a, tt.b, tt.fold); got != tt.want {
			t.Errorf("samePath(%q, %q, fold %v) = %v, want %v", tt.a, tt.b, tt.fold, got, tt.want)
		}
	}
}
