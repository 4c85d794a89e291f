//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// errorOf matches the "run finished" lines of job whose result is result
// and whose error contains want.
func errorOf(job, result, want string) func(map[string]any) bool {
	return func(l map[string]any) bool {
		msg, _ := l["error"].(string)
		return runsOf(job, result)(l) && strings.Contains(msg, want)
	}
}

// TestAgentFaults runs an agent whose jobs fail in the ways the issue
// names: a hook that fails, a hook that hangs past its timeout, a source
// that is not there, and runs that take longer than their interval. Each
// failure is logged with its reason and retried, the agent keeps
// running, and once the cause is gone the next run works.
func TestAgentFaults(t *testing.T) {
	bin, r, dir, src := agentSetup(t)
	gone := filepath.Join(dir, "gone")
	flag := func(name string) string { return filepath.Join(dir, "ok-"+name) }
	cfg := writeConfig(t, dir, fmt.Sprintf(`repository = %[1]q
state-file = "state.json"
[status]
listen = "127.0.0.1:0"

[[job]]
name = "hookfail"
sources = [%[2]q]
schedule = "@every 2s"
[job.hooks]
pre = "test -e %[3]s || { echo 'no volume to freeze' >&2; exit 7; }"
[job.retry]
initial = "1s"
max = "1s"

[[job]]
name = "hookhang"
sources = [%[2]q]
schedule = "@every 3s"
[job.hooks]
pre = "test -e %[4]s || sleep 600"
timeout = "1s"

[[job]]
name = "vanish"
sources = [%[5]q]
schedule = "@every 2s"

[[job]]
name = "overlap"
sources = [%[2]q]
schedule = "@every 1s"
[job.hooks]
pre = "sleep 2.5"
`, r.repo, src, flag("hookfail"), flag("hookhang"), gone))
	ag := startAgent(t, bin, r.env, cfg)

	ag.waitFor(t, 30*time.Second, "a failed run of each faulty job", func() bool {
		return ag.count(errorOf("hookfail", resultFailed, "pre hook: /bin/sh: exit status 7")) > 0 &&
			ag.count(errorOf("hookhang", resultFailed, "pre hook: /bin/sh: timed out after 1s and was killed")) > 0 &&
			ag.count(errorOf("vanish", resultFailed, gone)) > 0 &&
			ag.count(runsOf("overlap", resultSuccess)) > 0
	})
	if l := ag.find(func(l map[string]any) bool { return l["hook"] == "pre" && l["job"] == "hookfail" }); l == nil || l["line"] != "no volume to freeze" {
		t.Errorf("the failing hook's output was not logged: %v", l)
	}
	if ag.count(func(l map[string]any) bool { return runsOf("hookfail", "")(l) && l["trigger"] == "retry" }) == 0 {
		ag.waitFor(t, 10*time.Second, "a retry of hookfail", func() bool {
			return ag.count(func(l map[string]any) bool { return runsOf("hookfail", "")(l) && l["trigger"] == "retry" }) > 0
		})
	}
	for _, f := range []string{flag("hookfail"), flag("hookhang")} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	makeTree(t, gone)
	ag.waitFor(t, 30*time.Second, "a successful run of each job once its cause is gone", func() bool {
		return ag.count(runsOf("hookfail", resultSuccess)) > 0 && ag.count(runsOf("hookhang", resultSuccess)) > 0 &&
			ag.count(runsOf("vanish", resultSuccess)) > 0
	})
	d := ag.status(t)
	if j := d.job(t, "overlap"); j.Stats.Skips == 0 || j.Stats.Runs == 0 {
		t.Errorf("overlap: %+v; want runs and skipped slots", j.Stats)
	}
	if ag.count(func(l map[string]any) bool {
		return l["msg"] == "run skipped: the previous run is still going" && l["job"] == "overlap"
	}) == 0 {
		t.Errorf("no skipped slot was logged:\n%s", ag.log())
	}
	for _, name := range []string{"hookfail", "hookhang", "vanish"} {
		if j := d.job(t, name); j.Stats.Failures == 0 || j.LastSuccess.IsZero() {
			t.Errorf("%s: %+v, last success %v; want failures, then a success", name, j.Stats, j.LastSuccess)
		}
	}
	if code, _ := ag.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("agent exit %d", code)
	}
	requireOK(t, r.check(t, exitOK))
}

// TestAgentFullDisk fills the disk of the local repository and its index
// cache: the run fails with the reason logged, the agent keeps running,
// and once space is freed the next run works.
func TestAgentFullDisk(t *testing.T) {
	bin := buildBinary(t)
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk")
	if err := os.Mkdir(disk, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", disk, "tmpfs", 0, "size=32m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(disk, syscall.MNT_DETACH) })
	r := newRepoEnv(t, bin)
	r.repo, r.cache = filepath.Join(disk, "repo"), filepath.Join(disk, "cache")
	r.env = []string{"HOME=" + filepath.Join(dir, "home"), envRepository + "=" + r.repo, envCacheDir + "=" + r.cache}
	r.run(t, exitOK, "init")
	src := filepath.Join(dir, "src")
	addBigFiles(t, src, 900, 2, 4<<20)
	ballast := filepath.Join(disk, "ballast")
	wimtest.FillDisk(t, ballast, 2<<20) // leave 2 MiB: too little for 8 MiB of random data
	cfg := writeConfig(t, dir, fmt.Sprintf(`repository = %q
state-file = "state.json"
[status]
listen = "off"
[[job]]
name = "full"
sources = [%q]
schedule = "@every 2s"
[job.retry]
initial = "1s"
`, r.repo, src))
	ag := startAgent(t, bin, r.env, cfg)
	ag.waitFor(t, 30*time.Second, "a run failed for lack of space", func() bool {
		return ag.count(errorOf("full", resultFailed, "no space left on device")) > 0
	})
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	ag.waitFor(t, 30*time.Second, "a successful run once space is free", func() bool {
		return ag.count(runsOf("full", resultSuccess)) > 0
	})
	if code, _ := ag.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("agent exit %d", code)
	}
	requireOK(t, r.check(t, exitOK, "--read-data"))
}

// TestAgentReload sends SIGHUP: a config that does not load is refused
// and the running one kept; a good one adds a job, which runs.
func TestAgentReload(t *testing.T) {
	bin, r, dir, src := agentSetup(t)
	head := fmt.Sprintf("repository = %q\nstate-file = \"state.json\"\n[status]\nlisten = \"127.0.0.1:0\"\n", r.repo)
	job := func(name, sched string) string {
		return fmt.Sprintf("[[job]]\nname = %q\nsources = [%q]\nschedule = %q\n", name, src, sched)
	}
	cfg := writeConfig(t, dir, head+job("first", "@every 1h"))
	ag := startAgent(t, bin, r.env, cfg)

	writeConfig(t, dir, head+job("first", "@every 1h")+"[job.retention]\nkeep-dayly = 3\n")
	if err := ag.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	l := ag.waitLog(t, 10*time.Second, func(l map[string]any) bool { return l["msg"] == "reload refused; the running configuration stays" })
	if msg, _ := l["error"].(string); !strings.Contains(msg, `job[1].retention.keep-dayly: unknown key; did you mean "keep-daily"?`) {
		t.Errorf("refused reload: %q", msg)
	}
	if d := ag.status(t); len(d.Jobs) != 1 || d.Jobs[0].Name != "first" {
		t.Errorf("after a refused reload: %+v", d.Jobs)
	}

	writeConfig(t, dir, head+job("first", "@every 1h")+job("second", "@every 1s"))
	if err := ag.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	ag.waitLog(t, 10*time.Second, func(l map[string]any) bool { return l["msg"] == "configuration reloaded" })
	ag.waitFor(t, 20*time.Second, "a run of the new job", func() bool { return ag.count(runsOf("second", resultSuccess)) > 0 })
	if d := ag.status(t); len(d.Jobs) != 2 {
		t.Errorf("after reload: %+v", d.Jobs)
	}
	if code, took := ag.stop(t, syscall.SIGINT); code != 0 || took > 5*time.Second {
		t.Errorf("SIGINT: exit %d after %s", code, took)
	}
}

// TestAgentStopDuringPostHook: a stop while a snapshot job's post hook
// runs, which then fails, leaves the run partial with its snapshot
// recorded, as a post hook's failure does; it was once counted as
// interrupted, and the next start took the snapshot again.
func TestAgentStopDuringPostHook(t *testing.T) {
	bin, r, dir, src := agentSetup(t)
	started := filepath.Join(dir, "post-started")
	cfg := writeConfig(t, dir, fmt.Sprintf(`repository = %[1]q
state-file = "state.json"
[status]
listen = "off"

[[job]]
name = "slowpost"
sources = [%[2]q]
schedule = "@every 2s"
[job.hooks]
post = "touch %[3]s; sleep 2; exit 1"
`, r.repo, src, started))
	ag := startAgent(t, bin, r.env, cfg)
	ag.waitFor(t, 30*time.Second, "the post hook to start", func() bool {
		_, err := os.Stat(started)
		return err == nil
	})
	if code, _ := ag.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("agent exit %d", code)
	}
	l := ag.find(runsOf("slowpost", ""))
	if l == nil || l["result"] != resultPartial || !strings.Contains(fmt.Sprint(l["error"]), "post hook") {
		t.Fatalf("the run: %v, want partial for its post hook\n%s", l, ag.log())
	}
	if snaps, _ := l["snapshots"].([]any); len(snaps) != 1 {
		t.Errorf("the run's snapshots: %v, want the one taken", l["snapshots"])
	}
}

// TestAgentStopStubbornHooks: at a stop, a pre hook and then a post hook
// that both ignore SIGTERM are killed, and the run recorded, before the
// agent exits. The post hook, started when the pre hook was killed 5 s
// after the stop, had 20 s from its own start, and the agent stopped
// waiting (30 s) before killing it: its processes outlived the agent, and
// the run stayed "running". A second SIGTERM during the stop is logged
// and changes nothing.
func TestAgentStopStubbornHooks(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 25 s")
	}
	bin, r, dir, src := agentSetup(t)
	started, pidFile := filepath.Join(dir, "pre-started"), filepath.Join(dir, "post.pid")
	cfg := writeConfig(t, dir, fmt.Sprintf(`repository = %[1]q
state-file = "state.json"
[status]
listen = "off"

[[job]]
name = "stubborn"
sources = [%[2]q]
schedule = "@every 2s"
[job.hooks]
pre = "trap '' TERM; touch %[3]s; sleep 100"
post = "trap '' TERM; echo $$ > %[4]s; sleep 100"
`, r.repo, src, started, pidFile))
	ag := startAgent(t, bin, r.env, cfg)
	ag.waitFor(t, 30*time.Second, "the pre hook to start", func() bool {
		_, err := os.Stat(started)
		return err == nil
	})
	// A second SIGTERM while the agent stops changes nothing: it ended
	// the agent at once, the hooks left running, exit 143.
	if err := ag.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if code, took := ag.stop(t, syscall.SIGTERM); code != 0 || took > 28*time.Second {
		t.Errorf("agent exit %d after %s", code, took)
	}
	if ag.find(func(l map[string]any) bool { return strings.HasPrefix(fmt.Sprint(l["msg"]), "already stopping") }) == nil {
		t.Errorf("the second signal is not logged:\n%s", ag.log())
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the post hook did not run: %v\n%s", err, ag.log())
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// Killed, its processes may take a moment to be reaped (by init).
	gone := func() bool { return errors.Is(syscall.Kill(-pid, 0), syscall.ESRCH) }
	for i := 0; i < 40 && !gone(); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if !gone() {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		t.Errorf("the post hook's process group outlived the agent")
	}
	if l := ag.find(runsOf("stubborn", "")); l == nil {
		t.Errorf("no run recorded\n%s", ag.log())
	}
}

// TestAgentLogsFindings: what a check run found is in the agent's log,
// not only its count: the run's error said "5 problems" and nothing said
// which pack.
func TestAgentLogsFindings(t *testing.T) {
	bin, r, dir, src := agentSetup(t)
	r.run(t, exitOK, "snapshot", src)
	var packs []string
	err := filepath.WalkDir(filepath.Join(r.repo, "packs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			packs = append(packs, p)
		}
		return err
	})
	if err != nil || len(packs) == 0 {
		t.Fatalf("packs: %v %v", packs, err)
	}
	f, err := os.OpenFile(packs[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xff, 0x00, 0xff}, 100); err != nil {
		t.Fatal(err)
	}
	must(t, f.Close())
	cfg := writeConfig(t, dir, fmt.Sprintf(`repository = %[1]q
state-file = "state.json"
[status]
listen = "off"

[[job]]
name = "daily"
sources = [%[2]q]
schedule = "0 3 * * *"

[check]
schedule = "@every 2s"
read-data = true
`, r.repo, src))
	ag := startAgent(t, bin, r.env, cfg)
	pack := filepath.Base(packs[0])
	ag.waitFor(t, 30*time.Second, "the check's findings", func() bool {
		return ag.count(func(l map[string]any) bool {
			return l["msg"] == "command findings" && l["command"] == "check" && strings.Contains(fmt.Sprint(l["problems"]), pack)
		}) > 0
	})
	ag.waitFor(t, 30*time.Second, "the check's run", func() bool { return ag.count(runsOf("check", resultFailed)) > 0 })
	if l := ag.find(runsOf("check", resultFailed)); !strings.HasPrefix(fmt.Sprint(l["error"]), "check: the repository is damaged") {
		t.Errorf("the run's error: %q", l["error"])
	}
	if code, _ := ag.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("agent exit %d", code)
	}
}

// TestAgentRetryTakesLeftSources: a retry of a job whose run failed for one
// missing source takes that source only, not the others again (each of
// which would add a snapshot and let its forget drop an older one); a
// scheduled run takes them all.
func TestAgentRetryTakesLeftSources(t *testing.T) {
	bin := buildBinary(t)
	r := newRepoEnv(t, bin)
	r.run(t, exitOK, "init")
	dir := t.TempDir()
	good, gone := filepath.Join(dir, "good"), filepath.Join(dir, "gone")
	makeTree(t, good)
	cfg := writeConfig(t, dir, fmt.Sprintf(`repository = %[1]q
state-file = "state.json"
[status]
listen = "off"

[[job]]
name = "two"
sources = [%[2]q, %[3]q]
schedule = "@every 4s"
[job.retry]
initial = "1s"
max = "1s"
`, r.repo, gone, good))
	ag := startAgent(t, bin, r.env, cfg)
	retries := func(result string) func(map[string]any) bool {
		return func(l map[string]any) bool { return runsOf("two", result)(l) && l["trigger"] == "retry" }
	}
	ag.waitFor(t, 30*time.Second, "two failed retries", func() bool { return ag.count(retries(resultFailed)) >= 2 })
	makeTree(t, gone)
	ag.waitFor(t, 30*time.Second, "a successful run", func() bool { return ag.count(runsOf("two", resultSuccess)) > 0 })
	if code, _ := ag.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("agent exit %d", code)
	}
	for _, l := range ag.lines() {
		snaps, _ := l["snapshots"].([]any)
		switch {
		case retries(resultFailed)(l) && len(snaps) != 0:
			t.Errorf("a failed retry took %d snapshots, want none (the good source was taken before): %v", len(snaps), l)
		case runsOf("two", resultFailed)(l) && l["trigger"] == "scheduled" && len(snaps) != 1:
			t.Errorf("a failed scheduled run took %d snapshots, want the good source's: %v", len(snaps), l)
		}
	}
}
