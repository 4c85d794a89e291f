package main

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/scheduler"
)

// promSample is one sample line of the Prometheus text format.
type promSample struct {
	job, kind string
	value     float64
}

// promFamily is one metric family: its HELP and TYPE and its samples.
type promFamily struct {
	help, typ string
	samples   []promSample
}

var (
	promLabelValue = `"((?:[^"\\\n]|\\[\\"n])*)"`
	promSampleRE   = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)\{job=` + promLabelValue +
		`,kind=` + promLabelValue + `\} (\S+)$`)
	promCommentRE = regexp.MustCompile(`^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$`)
)

// promUnescape undoes the escaping of a label value.
func promUnescape(s string) string {
	return strings.NewReplacer(`\\`, `\`, `\"`, `"`, `\n`, "\n").Replace(s)
}

// parseMetrics reads the page line by line as the Prometheus text format
// that writeMetrics writes: per family a HELP line, a TYPE line, then its
// samples, each with a job and a kind label. It fails t on any other line.
func parseMetrics(t *testing.T, page string) map[string]*promFamily {
	t.Helper()
	if !strings.HasSuffix(page, "\n") {
		t.Errorf("page does not end with a newline")
	}
	fams := map[string]*promFamily{}
	var cur string // the family whose samples may follow
	for i, line := range strings.Split(strings.TrimSuffix(page, "\n"), "\n") {
		if m := promCommentRE.FindStringSubmatch(line); m != nil {
			name := m[2]
			switch f := fams[name]; {
			case m[1] == "HELP" && f != nil:
				t.Errorf("line %d: a second HELP for %s", i+1, name)
			case m[1] == "HELP":
				fams[name] = &promFamily{help: m[3]}
			case f == nil || f.typ != "" || len(f.samples) > 0:
				t.Errorf("line %d: TYPE of %s not right after its HELP", i+1, name)
			case m[3] != "counter" && m[3] != "gauge":
				t.Errorf("line %d: type %q", i+1, m[3])
			default:
				f.typ = m[3]
			}
			cur = name
			continue
		}
		m := promSampleRE.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("line %d is neither a comment nor a sample: %q", i+1, line)
			continue
		}
		f := fams[m[1]]
		if m[1] != cur || f == nil || f.typ == "" {
			t.Errorf("line %d: sample of %s outside its family's HELP and TYPE", i+1, m[1])
			continue
		}
		v, err := strconv.ParseFloat(m[4], 64)
		if err != nil {
			t.Errorf("line %d: value %q: %v", i+1, m[4], err)
		}
		f.samples = append(f.samples, promSample{job: promUnescape(m[2]), kind: promUnescape(m[3]), value: v})
	}
	return fams
}

// value returns the sample of job in family name, if there is one.
func (f *promFamily) value(job string) (float64, bool) {
	for _, s := range f.samples {
		if s.job == job {
			return s.value, true
		}
	}
	return 0, false
}

func TestWriteMetrics(t *testing.T) {
	const odd = "odd \"job\" \\ with\nnewline" // cannot come from a config, but must not break the page
	lastRun := time.Date(2026, 3, 1, 2, 30, 0, 250e6, time.UTC)
	next := time.Date(2026, 3, 2, 2, 30, 0, 0, time.UTC)
	b := newBoard(agentInfo{Config: "/etc/wimsnap/agent.toml", PID: 1})
	b.update("system", func(ts *taskStatus) {
		ts.Kind = kindSnapshot
		ts.Running = true
		ts.NextRun = next
		ts.LastRun = lastRun
		ts.LastSuccess = lastRun.Add(90 * time.Second)
		ts.LastResult = resultPartial
		ts.LastDurationSec = 90.5
		ts.Stats = scheduler.Stats{Runs: 5, CatchUps: 1, Retries: 2, Skips: 3, Failures: 4}
		ts.Totals = runTotals{FilesRead: 1000, FilesSkipped: 2, BytesRead: 1 << 40, BytesNew: 12345,
			BytesStored: 6789, LockWaitSec: 2.5, Forgotten: 7}
	})
	b.update(odd, func(ts *taskStatus) { ts.Kind = kindPrune })

	var page strings.Builder
	writeMetrics(&page, b.doc())
	fams := parseMetrics(t, page.String())

	if len(fams) != len(agentMetrics) {
		t.Errorf("%d families, want %d", len(fams), len(agentMetrics))
	}
	for name, f := range fams {
		if f.help == "" || f.typ == "" {
			t.Errorf("%s: HELP %q, TYPE %q", name, f.help, f.typ)
		}
		if f.typ == "counter" != strings.HasSuffix(name, "_total") {
			t.Errorf("%s is a %s", name, f.typ)
		}
		for _, s := range f.samples {
			if want := map[string]string{"system": "snapshot", odd: "prune"}[s.job]; s.kind != want {
				t.Errorf("%s{job=%q}: kind %q, want %q", name, s.job, s.kind, want)
			}
		}
	}

	tests := []struct {
		family string
		job    string
		want   float64
		absent bool // no sample at all
	}{
		{family: "wimsnap_agent_runs_total", job: "system", want: 5},
		{family: "wimsnap_agent_run_catchups_total", job: "system", want: 1},
		{family: "wimsnap_agent_run_retries_total", job: "system", want: 2},
		{family: "wimsnap_agent_run_skips_total", job: "system", want: 3},
		{family: "wimsnap_agent_run_failures_total", job: "system", want: 4},
		{family: "wimsnap_agent_files_read_total", job: "system", want: 1000},
		{family: "wimsnap_agent_files_skipped_total", job: "system", want: 2},
		{family: "wimsnap_agent_read_bytes_total", job: "system", want: 1 << 40},
		{family: "wimsnap_agent_new_bytes_total", job: "system", want: 12345},
		{family: "wimsnap_agent_uploaded_bytes_total", job: "system", want: 6789},
		{family: "wimsnap_agent_lock_wait_seconds_total", job: "system", want: 2.5},
		{family: "wimsnap_agent_snapshots_forgotten_total", job: "system", want: 7},
		{family: "wimsnap_agent_running", job: "system", want: 1},
		{family: "wimsnap_agent_last_run_duration_seconds", job: "system", want: 90.5},
		{family: "wimsnap_agent_last_run_success", job: "system", want: 1}, // partial counts as success
		{family: "wimsnap_agent_last_run_timestamp_seconds", job: "system", want: 1772332200.25},
		{family: "wimsnap_agent_last_success_timestamp_seconds", job: "system", want: 1772332290.25},
		{family: "wimsnap_agent_next_run_timestamp_seconds", job: "system", want: float64(next.Unix())},

		{family: "wimsnap_agent_runs_total", job: odd, want: 0},
		{family: "wimsnap_agent_read_bytes_total", job: odd, want: 0},
		{family: "wimsnap_agent_running", job: odd, want: 0},
		{family: "wimsnap_agent_last_run_duration_seconds", job: odd, absent: true},
		{family: "wimsnap_agent_last_run_success", job: odd, absent: true},
		{family: "wimsnap_agent_last_run_timestamp_seconds", job: odd, absent: true},
		{family: "wimsnap_agent_last_success_timestamp_seconds", job: odd, absent: true},
		{family: "wimsnap_agent_next_run_timestamp_seconds", job: odd, absent: true},
	}
	for _, tt := range tests {
		t.Run(tt.family+"/"+strings.Fields(tt.job)[0], func(t *testing.T) {
			f := fams[tt.family]
			if f == nil {
				t.Fatalf("no family %s", tt.family)
			}
			got, ok := f.value(tt.job)
			switch {
			case tt.absent && ok:
				t.Errorf("sample %v, want none", got)
			case !tt.absent && !ok:
				t.Errorf("no sample, want %v", tt.want)
			case !tt.absent && got != tt.want:
				t.Errorf("sample %v, want %v", got, tt.want)
			}
		})
	}
}

// TestWriteMetricsLastResult checks last_run_success for each result.
func TestWriteMetricsLastResult(t *testing.T) {
	tests := []struct {
		result string
		want   float64
	}{
		{resultSuccess, 1},
		{resultPartial, 1},
		{resultFailed, 0},
		{resultInterrupted, 0},
	}
	for _, tt := range tests {
		t.Run(tt.result, func(t *testing.T) {
			d := statusDoc{Jobs: []taskStatus{{Name: "j", Kind: kindCheck,
				taskState: taskState{LastRun: time.Unix(1e9, 0), LastResult: tt.result}}}}
			var page strings.Builder
			writeMetrics(&page, d)
			got, ok := parseMetrics(t, page.String())["wimsnap_agent_last_run_success"].value("j")
			if !ok || got != tt.want {
				t.Errorf("last_run_success = %v (present %v), want %v", got, ok, tt.want)
			}
		})
	}
}

// TestWriteMetricsUnfinishedDuration: a run the agent died in has no
// duration sample (it gave 0, the gauge being of finished runs); a
// finished one has its own.
func TestWriteMetricsUnfinishedDuration(t *testing.T) {
	for result, want := range map[string]bool{resultUnfinished: false, resultFailed: true} {
		d := statusDoc{Jobs: []taskStatus{{Name: "j", Kind: kindCheck,
			taskState: taskState{LastRun: time.Unix(1e9, 0), LastResult: result, LastDurationSec: 2}}}}
		var page strings.Builder
		writeMetrics(&page, d)
		if _, ok := parseMetrics(t, page.String())["wimsnap_agent_last_run_duration_seconds"].value("j"); ok != want {
			t.Errorf("%s: duration sample present %v, want %v", result, ok, want)
		}
	}
}

// stateDirFiles lists the names in dir.
func stateDirFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestAgentStateRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "wimsnap") // made by write
	path := filepath.Join(dir, "agent.json")
	when := time.Date(2026, 3, 1, 2, 30, 0, 0, time.UTC)
	first := &agentState{Version: agentStateVersion, Listen: "127.0.0.1:9465", PID: 42, Tasks: map[string]*taskState{
		"system": {LastRun: when, LastSuccess: when.Add(time.Minute), LastResult: resultSuccess,
			LastDurationSec: 60.5, LastSnapshots: []string{"a1b2", "c3d4"}},
		"prune": {LastRun: when, LastResult: resultFailed, LastError: "prune: lock held"},
		"check": {},
	}}
	second := &agentState{Version: agentStateVersion, Tasks: map[string]*taskState{"home": {LastRun: when}}}
	for i, st := range []*agentState{first, second} {
		if err := st.write(path); err != nil {
			t.Fatalf("write %d: %v", i+1, err)
		}
		got, err := readAgentState(path)
		if err != nil {
			t.Fatalf("read %d: %v", i+1, err)
		}
		if !reflect.DeepEqual(got, st) {
			t.Errorf("read %d: got %+v, want %+v", i+1, got, st)
		}
		if names := stateDirFiles(t, dir); !slices.Equal(names, []string{"agent.json"}) {
			t.Errorf("after write %d the directory holds %q, want only agent.json", i+1, names)
		}
	}
}

func TestReadAgentState(t *testing.T) {
	tests := []struct {
		name    string
		missing bool   // no file at all
		text    string // the file
		wantErr bool
		want    map[string]*taskState
	}{
		{name: "missing file", missing: true, want: map[string]*taskState{}},
		{name: "no tasks", text: `{"version": 1}`, want: map[string]*taskState{}},
		{name: "one task", text: `{"version": 1, "tasks": {"system": {"last_result": "success"}}}`,
			want: map[string]*taskState{"system": {LastResult: resultSuccess}}},
		{name: "empty file", text: "", wantErr: true, want: map[string]*taskState{}},
		{name: "cut short", text: `{"version": 1, "tasks": {"system": {"last_res`, wantErr: true,
			want: map[string]*taskState{}},
		{name: "other version", text: `{"version": 2, "tasks": {"system": {}}}`, wantErr: true,
			want: map[string]*taskState{}},
		{name: "no version", text: `{"tasks": {"system": {}}}`, wantErr: true, want: map[string]*taskState{}},
		{name: "wrong types", text: `{"version": 1, "tasks": []}`, wantErr: true, want: map[string]*taskState{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "agent.json")
			if !tt.missing {
				if err := os.WriteFile(path, []byte(tt.text), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			st, err := readAgentState(path)
			if tt.wantErr != (err != nil) {
				t.Errorf("err = %v, want an error: %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "damaged") {
				t.Errorf("err = %v, want it to say the file is damaged", err)
			}
			if st == nil || st.Version != agentStateVersion || !reflect.DeepEqual(st.Tasks, tt.want) {
				t.Errorf("state %+v, want version %d and tasks %v", st, agentStateVersion, tt.want)
			}
		})
	}
	t.Run("unreadable", func(t *testing.T) {
		st, err := readAgentState(t.TempDir()) // a directory
		if err == nil || st == nil || st.Tasks == nil || len(st.Tasks) != 0 {
			t.Errorf("got %+v, %v; want an empty state and an error", st, err)
		}
	})
}

// TestAgentStateWriteFails checks that a write that cannot replace the
// file leaves the old one and no temporary file.
func TestAgentStateWriteFails(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.json")
	if err := os.MkdirAll(filepath.Join(path, "sub"), 0o700); err != nil { // rename cannot replace a full directory
		t.Fatal(err)
	}
	st := &agentState{Version: agentStateVersion, Tasks: map[string]*taskState{"system": {}}}
	if err := st.write(path); err == nil || !strings.HasPrefix(err.Error(), "agent state: ") {
		t.Fatalf("err = %v, want an agent state error", err)
	}
	if names := stateDirFiles(t, dir); !slices.Equal(names, []string{"agent.json"}) {
		t.Errorf("after a failed write the directory holds %q, want only agent.json", names)
	}
	if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
		t.Errorf("the old agent.json is gone: %v", err)
	}
}

func TestCommandLabel(t *testing.T) {
	for _, tt := range []struct{ command, what, want string }{
		{"prune", "prune", "prune"},
		{"check", "", "check"},
		{"snapshot", "/srv", "snapshot /srv"},
		{"prune", "weekly", "prune weekly"},
	} {
		if got := commandLabel(tt.command, tt.what); got != tt.want {
			t.Errorf("commandLabel(%q, %q) = %q, want %q", tt.command, tt.what, got, tt.want)
		}
	}
}

// TestMarkUnfinished: a run that began and never ended (the agent was
// SIGKILLed) shows as unfinished at the next start, not with the result
// and error of the run before it.
func TestMarkUnfinished(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 2, 30, 0, 0, time.UTC)
	st := &agentState{Version: agentStateVersion, Tasks: map[string]*taskState{
		"killed": {LastRun: t0.Add(time.Hour), Running: true, LastResult: resultInterrupted,
			LastError: "context canceled", LastDurationSec: 60},
		"first-killed": {LastRun: t0, Running: true},
		"ended":        {LastRun: t0, LastResult: resultSuccess, LastDurationSec: 60},
		"old-format":   {LastRun: t0, LastResult: resultFailed, LastError: "lock held"},
		"never":        {},
	}}
	if !st.markUnfinished() {
		t.Fatal("markUnfinished changed nothing")
	}
	for name, ts := range st.Tasks {
		unfinished := name == "killed" || name == "first-killed"
		if got := ts.LastResult == resultUnfinished; got != unfinished {
			t.Errorf("%s: result %q, error %q", name, ts.LastResult, ts.LastError)
		}
		if unfinished && (ts.LastError == "context canceled" || ts.LastDurationSec != 0 || ts.Running) {
			t.Errorf("%s keeps the earlier run's figures: %+v", name, ts)
		}
	}
	if st.markUnfinished() {
		t.Error("a second markUnfinished changed something")
	}
}
