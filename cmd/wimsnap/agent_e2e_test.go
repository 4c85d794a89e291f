//go:build unix

package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/remote/miniotest"
)

// agentProc is a wimsnap agent process started by a test.
type agentProc struct {
	cmd  *exec.Cmd
	addr string // the status address it bound
	mu   sync.Mutex
	logs []map[string]any // its log lines, decoded
	raw  strings.Builder
	done chan struct{} // closed when it has exited and its log is read
	err  error         // what cmd.Wait returned, once done is closed
}

// startAgent starts `wimsnap agent --config config` with env and waits
// for its "agent started" line. The process is killed at the end of the
// test if it still runs.
func startAgent(t *testing.T, bin string, env []string, config string) *agentProc {
	t.Helper()
	cmd := exec.Command(bin, "agent", "--config", config)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	return startAgentCmd(t, cmd, "")
}

// startAgentCmd starts the agent command cmd as startAgent does. Its log
// (stderr) comes through a pipe, or, when logFile is set, through that
// file, read as it grows until the agent has exited. (Wine takes about a
// second to end a program whose stderr is a pipe after Ctrl+C, 15 ms when
// it is a file, and has been seen to end it by a signal in that second.)
func startAgentCmd(t *testing.T, cmd *exec.Cmd, logFile string) *agentProc {
	t.Helper()
	p := &agentProc{done: make(chan struct{}), cmd: cmd}
	// follow reads the log and waits for the agent to exit; p.done closes
	// after it.
	var follow func()
	if logFile == "" {
		pipe, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		follow = func() { p.read(pipe); p.err = cmd.Wait() }
	} else {
		f, err := os.Create(logFile)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.Close() })
		cmd.Stderr = f
		r, err := os.Open(logFile)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Close() })
		tl := &tail{f: r, exited: make(chan struct{})}
		follow = func() {
			go func() { p.err = cmd.Wait(); close(tl.exited) }()
			p.read(tl)
		}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				// Its log pipe is still open: something it started holds it.
				t.Errorf("the agent's log did not end within 10 s of killing it")
			}
		}
	})
	go func() { defer close(p.done); follow() }()
	p.waitLog(t, 20*time.Second, func(l map[string]any) bool { return l["msg"] == "agent started" })
	p.addr, _ = p.find(func(l map[string]any) bool { return l["msg"] == "agent started" })["status"].(string)
	return p
}

// tail reads a file another process writes, as it grows: at its end it
// waits for more until exited is closed.
type tail struct {
	f      *os.File
	exited chan struct{}
}

func (r *tail) Read(b []byte) (int, error) {
	for {
		n, err := r.f.Read(b)
		if n > 0 || !errors.Is(err, io.EOF) {
			return n, err
		}
		select {
		case <-r.exited:
			return r.f.Read(b) // what it wrote last, or EOF
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// read decodes the agent's log lines until r ends.
func (p *agentProc) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l map[string]any
		p.mu.Lock()
		p.raw.WriteString(sc.Text() + "\n")
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			p.logs = append(p.logs, l)
		}
		p.mu.Unlock()
	}
}

// find returns the last log line that matches, or nil.
func (p *agentProc) find(match func(map[string]any) bool) map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.logs) - 1; i >= 0; i-- {
		if match(p.logs[i]) {
			return p.logs[i]
		}
	}
	return nil
}

// lines returns the log lines read so far.
func (p *agentProc) lines() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.logs)
}

// count counts the log lines that match.
func (p *agentProc) count(match func(map[string]any) bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.logs {
		if match(l) {
			n++
		}
	}
	return n
}

// waitFor waits until cond holds.
func (p *agentProc) waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s; the agent's log:\n%s", limit, what, p.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitLog waits until a log line matches and returns it.
func (p *agentProc) waitLog(t *testing.T, limit time.Duration, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if l := p.find(match); l != nil {
			return l
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no such log line within %s; the agent's log:\n%s", limit, p.log())
	return nil
}

func (p *agentProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.raw.String()
}

// stop sends sig and waits for the agent to exit; it returns the exit
// code and how long the exit took.
func (p *agentProc) stop(t *testing.T, sig syscall.Signal) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
		code := 0
		var ee *exec.ExitError
		if errors.As(p.err, &ee) {
			code = ee.ExitCode()
		}
		t.Logf("after %v: %v in %s", sig, p.cmd.ProcessState, time.Since(start))
		return code, time.Since(start)
	case <-time.After(60 * time.Second):
		t.Fatalf("the agent did not exit within 60 s of %v; its log:\n%s", sig, p.log())
	}
	return 0, 0
}

// status fetches and decodes /status.
func (p *agentProc) status(t *testing.T) statusDoc {
	t.Helper()
	var d statusDoc
	if err := json.Unmarshal([]byte(httpGet(t, "http://"+p.addr+"/status")), &d); err != nil {
		t.Fatalf("/status: %v", err)
	}
	return d
}

func (d statusDoc) job(t *testing.T, name string) taskStatus {
	t.Helper()
	for _, j := range d.Jobs {
		if j.Name == name {
			return j
		}
	}
	t.Fatalf("/status has no job %q: %+v", name, d.Jobs)
	return taskStatus{}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url) //nolint:gosec,noctx // a test's loopback URL
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // a read body
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %v %s", url, err, resp.Status)
	}
	return string(b)
}

// metricValue returns the value of the sample name{job="job",...} in a
// /metrics page, or -1 when there is none.
func metricValue(page, name, job string) float64 {
	re := regexp.MustCompile(`(?m)^` + name + `\{job="` + regexp.QuoteMeta(job) + `",kind="[a-z]+"\} ([0-9.e+-]+)$`)
	m := re.FindStringSubmatch(page)
	if m == nil {
		return -1
	}
	var v float64
	fmt.Sscan(m[1], &v) //nolint:errcheck // the pattern admits numbers only
	return v
}

// runsOf matches the "run finished" lines of job with result ("" for any).
func runsOf(job, result string) func(map[string]any) bool {
	return func(l map[string]any) bool {
		return l["msg"] == "run finished" && l["job"] == job && (result == "" || l["result"] == result)
	}
}

// writeConfig writes an agent config into dir and returns its path.
func writeConfig(t *testing.T, dir, text string) string {
	t.Helper()
	p := filepath.Join(dir, "agent.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// agentRoundTrip is the shown point of the issue for one repository: an
// agent with a seconds-level schedule takes snapshots, applies retention,
// reports on /status and /metrics, and stops within 5 s of SIGTERM
// during a snapshot, leaving a repository check passes.
func agentRoundTrip(t *testing.T, r *repoEnv, agentEnv []string, repoLine string, credentials string) {
	t.Helper()
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	makeTree(t, small)
	big := filepath.Join(dir, "big")
	addTextFiles(t, big, 16, 8<<20) // 128 MiB that one thread compresses in seconds
	cfg := writeConfig(t, dir, fmt.Sprintf(`%s
state-file = "state.json"
%s
[status]
listen = "127.0.0.1:0"

[[job]]
name = "small"
sources = ["small"]
schedule = "@every 2s"
tags = ["agent"]
[job.retention]
keep-last = 2

[[job]]
name = "big"
sources = ["big"]
schedule = "0 3 1 1 *"
threads = 1
`, repoLine, credentials))
	ag := startAgent(t, r.bin, agentEnv, cfg)

	// Several snapshots, each followed by retention.
	ag.waitFor(t, 60*time.Second, "4 runs of small", func() bool { return ag.count(runsOf("small", resultSuccess)) >= 4 })
	st := ag.status(t).job(t, "small")
	if st.Stats.Runs < 4 || st.LastResult != resultSuccess || st.LastSuccess.IsZero() || st.NextRun.IsZero() ||
		len(st.LastSnapshots) != 1 || st.Totals.Forgotten < 2 || st.Kind != kindSnapshot || st.Schedule != "@every 2s" {
		t.Errorf("/status small = %+v", st)
	}
	page := httpGet(t, "http://"+ag.addr+"/metrics")
	for name, min := range map[string]float64{
		"wimsnap_agent_runs_total": 4, "wimsnap_agent_snapshots_forgotten_total": 2,
		"wimsnap_agent_last_success_timestamp_seconds": float64(time.Now().Add(-time.Minute).Unix()),
		"wimsnap_agent_read_bytes_total":               1, "wimsnap_agent_uploaded_bytes_total": 1,
		"wimsnap_agent_last_run_success": 1, "wimsnap_agent_files_read_total": 1,
	} {
		if v := metricValue(page, name, "small"); v < min {
			t.Errorf("/metrics %s{job=small} = %v, want at least %v\n%s", name, v, min, page)
		}
	}
	if metricValue(page, "wimsnap_agent_last_run_timestamp_seconds", "big") != -1 {
		t.Errorf("/metrics has a last run for big, which never ran:\n%s", page)
	}
	res := runBin(t, r.bin, r.env, "agent", "status", "--config", cfg)
	if res.code != 0 || !regexp.MustCompile(`(?m)^small\s+snapshot\s+\S+ \S+\s+(success|running)`).MatchString(res.stdout) {
		t.Errorf("agent status: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	ag.stop(t, syscall.SIGTERM)
	if ids := r.snapshotIDs(t); len(ids) < 2 || len(ids) > 3 {
		t.Errorf("%d snapshots after retention keep-last 2, want 2 (3 if stopped between snapshot and forget)", len(ids))
	}

	// A run missed while the agent was stopped is caught up at start: big
	// "ran" last a year ago. SIGTERM during that snapshot stops the agent
	// within 5 s, abandoning the snapshot cleanly.
	setLastRun(t, filepath.Join(dir, "state.json"), "big", time.Now().AddDate(-1, 0, 0))
	ag = startAgent(t, r.bin, agentEnv, cfg)
	ag.waitFor(t, 20*time.Second, "big running", func() bool { return ag.status(t).job(t, "big").Running })
	time.Sleep(300 * time.Millisecond)
	if code, took := ag.stop(t, syscall.SIGTERM); code != 0 || took > 5*time.Second {
		t.Errorf("SIGTERM during a snapshot: exit %d after %s, want 0 within 5 s\n%s", code, took, ag.log())
	}
	l := ag.find(runsOf("big", ""))
	if l == nil || l["trigger"] != "catch-up" || l["result"] != resultInterrupted || l["totals_incomplete"] != true {
		t.Errorf("big's run: %v, want an interrupted catch-up with totals_incomplete\n%s", l, ag.log())
	}
	requireOK(t, r.check(t, exitOK))
	var snaps struct {
		Snapshots []manifestJSON `json:"snapshots"`
	}
	r.runJSON(t, exitOK, &snaps, "snapshots")
	for _, m := range snaps.Snapshots {
		if m.Source == big {
			t.Errorf("snapshot %s of big exists after its run was interrupted", m.ID)
		}
	}
	var locks struct {
		Removed, Kept []lockJSON
	}
	if r.runJSON(t, exitOK, &locks, "unlock"); len(locks.Removed)+len(locks.Kept) > 0 {
		t.Errorf("locks left after the agent stopped: %+v", locks)
	}
}

// addTextFiles writes n files of size random letters under dir: data that
// compresses, slowly.
func addTextFiles(t *testing.T, dir string, n, size int) {
	t.Helper()
	for i := range n {
		b := randomBytes(uint64(700+i), size)
		for j := range b {
			b[j] = "abcdefghijklmnopqrstuvwxyz \n"[b[j]%28]
		}
		writeFile(t, dir, fmt.Sprintf("%02d.txt", i), b)
	}
}

// setLastRun edits the agent's state file as if job last ran at when.
func setLastRun(t *testing.T, path, job string, when time.Time) {
	t.Helper()
	st, err := readAgentState(path)
	if err != nil {
		t.Fatal(err)
	}
	st.Tasks[job] = &taskState{LastRun: when, LastSuccess: when.Add(time.Minute)}
	if err := st.write(path); err != nil {
		t.Fatal(err)
	}
}

// agentSetup builds the binary, makes a local repository for it (r) and
// a test tree in src, below dir, the directory for the test's config.
func agentSetup(t *testing.T) (bin string, r *repoEnv, dir, src string) {
	t.Helper()
	bin = buildBinary(t)
	r = newRepoEnv(t, bin)
	r.run(t, exitOK, "init")
	dir = t.TempDir()
	src = filepath.Join(dir, "src")
	makeTree(t, src)
	return bin, r, dir, src
}

func TestAgentLocal(t *testing.T) {
	bin := buildBinary(t)
	r := newRepoEnv(t, bin)
	r.run(t, exitOK, "init")
	agentRoundTrip(t, r, r.env, fmt.Sprintf("repository = %q", r.repo), "")
}

// TestAgentS3 runs the round trip against a real MinIO server, the agent
// reading its credentials from an env-file rather than its environment.
func TestAgentS3(t *testing.T) {
	bin := buildBinary(t)
	srv := miniotest.Start(t)
	r := newS3Env(t, bin, srv, srv.URL, freshBucket())
	r.run(t, exitOK, "init")
	envFile := filepath.Join(t.TempDir(), "s3.env")
	text := fmt.Sprintf("# the agent's keys\nAWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%q\n", srv.AccessKey, srv.SecretKey)
	if err := os.WriteFile(envFile, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	agentEnv := slices.DeleteFunc(slices.Clone(r.env), func(v string) bool { return strings.HasPrefix(v, "AWS_") })
	agentRoundTrip(t, r, agentEnv, fmt.Sprintf("repository = %q", r.repo),
		fmt.Sprintf("[credentials]\nenv-file = %q\n", envFile))
}

// TestAgentLogFile: with --log-file the agent's log goes to the file,
// appended to, and nothing to stderr; a config that does not load is
// reported there too, as a JSON line as the log's others (it was text). --service is refused off Windows.
func TestAgentLogFile(t *testing.T) {
	bin := buildBinary(t)
	r := newRepoEnv(t, bin)
	r.run(t, exitOK, "init")
	dir := t.TempDir()
	makeTree(t, filepath.Join(dir, "src"))
	cfg := writeConfig(t, dir, fmt.Sprintf(`repository = %q
state-file = "state.json"
[status]
listen = "off"
[[job]]
name = "logged"
sources = ["src"]
schedule = "@every 1s"
`, r.repo))
	logFile := filepath.Join(dir, "logs", "agent.log")
	writeFile(t, dir, "logs/agent.log", []byte("an earlier line\n"))
	cmd := exec.Command(bin, "agent", "--config", cfg, "--log-file", logFile)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, r.env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	read := func() string { b, _ := os.ReadFile(logFile); return string(b) }
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(read(), `"msg":"run finished"`); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("no run in the log file within 60 s:\n%s\nstderr: %s", read(), stderr.String())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("agent: %v", err)
	}
	got := read()
	if !strings.HasPrefix(got, "an earlier line\n") || !strings.Contains(got, `"msg":"stopped"`) {
		t.Errorf("the log file, appended to, should end with the stop:\n%s", got)
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr with --log-file: %q", stderr.String())
	}

	writeFile(t, dir, "bad.toml", []byte("jobs = [\n"))
	badLog := filepath.Join(dir, "bad.log")
	res := runBin(t, bin, r.env, "agent", "--config", filepath.Join(dir, "bad.toml"), "--log-file", badLog)
	b, _ := os.ReadFile(badLog)
	var line struct {
		Level, Error string
		ExitCode     int `json:"exit_code"`
	}
	if err := json.Unmarshal(b, &line); res.code != exitUsage || err != nil || line.Level != "ERROR" ||
		!strings.Contains(line.Error, "bad.toml") || line.ExitCode != exitUsage {
		t.Errorf("a broken config with --log-file: exit %d, log %q (%v); want one JSON line naming it", res.code, b, err)
	}
	res = runBin(t, bin, r.env, "agent", "--config", cfg, "--service")
	if res.code != exitUsage || !strings.Contains(res.stderr, "only on Windows") {
		t.Errorf("--service off Windows: exit %d, stderr %q", res.code, res.stderr)
	}
}
