//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // Europe/Berlin where the system has no zoneinfo
)

// runAt runs one command line in-process with the clock at now.
func runAt(t *testing.T, env map[string]string, now time.Time, args ...string) (int, string, string) {
	t.Helper()
	a, out, errb := testApp(env)
	a.now = func() time.Time { return now }
	code := a.run(t.Context(), args)
	return code, out.String(), errb.String()
}

// repoBytes sums the sizes of the files under the repository's packs.
func repoBytes(t *testing.T, repo string) int64 {
	t.Helper()
	var n int64
	err := filepath.Walk(filepath.Join(repo, "packs"), func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestForgetYear: a year of nightly snapshots (at 00:30 in Berlin, the
// previous day in UTC) taken with an injected clock; forget with a
// daily/weekly/monthly/yearly policy in Berlin time keeps exactly the
// survivors listed by hand, prune frees what the others alone used, and
// every survivor restores with its own day's file.
func TestForgetYear(t *testing.T) {
	if testing.Short() {
		t.Skip("365 snapshots")
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	repo, src := filepath.Join(dir, "repo"), filepath.Join(dir, "src")
	env := map[string]string{envRepository: repo, envCacheDir: filepath.Join(dir, "cache"), "HOME": dir}
	if code, _, errb := runApp(t, env, "init"); code != exitOK {
		t.Fatalf("init: %s", errb)
	}
	writeFile(t, src, "etc/hostname", []byte("lab-07\n"))
	days := map[string]int{} // snapshot id -> day of the year
	for day := range 365 {
		writeFile(t, src, "var/day.bin", randomBytes(uint64(day), 64<<10))
		at := time.Date(2025, 1, 1, 0, 30, 0, 0, berlin).AddDate(0, 0, day)
		code, out, errb := runAt(t, env, at, "snapshot", src, "--host=lab-07", "--json")
		if code != exitOK {
			t.Fatalf("snapshot of day %d: exit %d: %s", day, code, errb)
		}
		var s struct{ Snapshot string }
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatal(err)
		}
		days[s.Snapshot] = day
	}
	before := repoBytes(t, repo)

	code, out, errb := runApp(t, env, "forget", "--keep-daily=7", "--keep-weekly=4", "--keep-monthly=12",
		"--keep-yearly=2", "--time-zone=Europe/Berlin", "--prune", "--json")
	if code != exitOK {
		t.Fatalf("forget --prune: exit %d: %s\n%s", code, errb, out)
	}
	var res forgetSummary
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	// By hand: 2025-12-31 is a Wednesday in ISO week 2026-W01.
	want := []string{
		"2025-01-31", "2025-02-28", "2025-03-31", "2025-04-30", "2025-05-31", "2025-06-30",
		"2025-07-31", "2025-08-31", "2025-09-30", "2025-10-31", "2025-11-30", // monthly
		"2025-12-14", "2025-12-21", // weekly (W50, W51; W52 is the 28th, W01 the 31st)
		"2025-12-25", "2025-12-26", "2025-12-27", "2025-12-28", "2025-12-29", "2025-12-30", "2025-12-31", // daily
	}
	if len(res.Groups) != 1 {
		t.Fatalf("groups %+v", res.Groups)
	}
	var got []string
	for _, k := range res.Groups[0].Keep {
		got = append(got, k.Time.In(berlin).Format(time.DateOnly))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("survivors\n got %v\nwant %v", got, want)
	}
	if res.Removed != 365-len(want) || len(res.Groups[0].Remove) != res.Removed {
		t.Errorf("removed %d, listed %d", res.Removed, len(res.Groups[0].Remove))
	}
	after := repoBytes(t, repo)
	gone := int64(365-len(want)) * 64 << 10
	if res.Prune == nil || before-after < gone*9/10 || res.Prune.BytesFreed != before-after {
		t.Errorf("prune freed %d bytes (repository %d -> %d), the forgotten days alone hold %d", res.Prune.BytesFreed, before, after, gone)
	}
	if code, _, errb := runApp(t, env, "check", "--read-data"); code != exitOK {
		t.Fatalf("check --read-data: %s", errb)
	}
	for _, k := range res.Groups[0].Keep {
		target := filepath.Join(dir, "restore", k.ID[:8])
		if code, _, errb := runApp(t, env, "restore", k.ID, "--target", target); code != exitOK {
			t.Fatalf("restore %s: %s", k.ID, errb)
		}
		b, err := os.ReadFile(filepath.Join(target, "var/day.bin"))
		if err != nil || !bytes.Equal(b, randomBytes(uint64(days[k.ID]), 64<<10)) {
			t.Errorf("snapshot of day %d restores another day's file (%v)", days[k.ID], err)
		}
	}
}

func TestParseSpan(t *testing.T) {
	day := 24 * time.Hour
	good := map[string]time.Duration{"7d": 7 * day, "2w": 14 * day, "1y": 365 * day, "36h": 36 * time.Hour,
		"1y6w": 365*day + 42*day, "7d12h": 7*day + 12*time.Hour, "90m": 90 * time.Minute, "1d1h30m": day + 90*time.Minute,
		"1.5h": 90 * time.Minute, "1d1.5h": day + 90*time.Minute, "500ms": 500 * time.Millisecond, "2h45m30s": 2*time.Hour + 45*time.Minute + 30*time.Second}
	for in, want := range good {
		if got, err := parseSpan(in); err != nil || got != want {
			t.Errorf("parseSpan(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	// Out of order, twice, or over 100 years: 585y wrapped to 21 days.
	for _, in := range []string{"", "d", "7", "7x", "-1d", "0d", "1d-2h", "99999y", "7d7", "1.5d",
		"1y1y", "5d1w", "1h1h", "30m1h", "1h30s10m", "585y", "1170y", "101y", "36600d", "878400h", "99y53w",
		"9223372036854775807s", "99999999999999999999y"} {
		if got, err := parseSpan(in); err == nil {
			t.Errorf("parseSpan(%q) = %v, want an error", in, got)
		}
	}
	if got, err := parseSpan("100y"); err != nil || got != maxSpan {
		t.Errorf("parseSpan(100y) = %v, %v; want %v", got, err, maxSpan)
	}
}

func TestParseMaxUnused(t *testing.T) {
	for in, want := range map[string]float64{"5%": 0.05, "100%": 1, "unlimited": -1, "2.5%": 0.025} {
		if got, err := parseMaxUnused(in); err != nil || got != want {
			t.Errorf("parseMaxUnused(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"5", "-1%", "x%", "", "1001%"} {
		if _, err := parseMaxUnused(in); err == nil {
			t.Errorf("parseMaxUnused(%q): no error", in)
		}
	}
}

// FuzzParseSpan: a span is refused or positive, and never panics.
func FuzzParseSpan(f *testing.F) {
	for _, s := range []string{"7d", "1y6w", "36h", "7d12h", "9999y9999w", "1d-1h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, err := parseSpan(s); err == nil && (d <= 0 || d > maxSpan) {
			t.Fatalf("parseSpan(%q) = %v", s, d)
		}
	})
}

// TestForgetLatestNoneSelected: forget latest with filters that select no
// snapshot is skipped, as a SNAP that is not there (exit 3, removing
// nothing), and says that none matches; it said "latest" was perhaps
// forgotten already.
func TestForgetLatestNoneSelected(t *testing.T) {
	env := testRepoEnv(t)
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, src, "f", []byte("x"))
	runAppOK(t, env, "snapshot", src)
	before := runAppOK(t, env, "snapshots")
	code, _, errb := runApp(t, env, "forget", "latest", "--host=nohost")
	if code != exitPartial || !strings.Contains(errb, `skipped: "latest" (none of the`) ||
		!strings.Contains(errb, "snapshots matches --host, --tag and --path)") || strings.Contains(errb, "forgotten already") {
		t.Fatalf("forget latest --host=nohost: exit %d, want %d\n%s", code, exitPartial, errb)
	}
	if after := runAppOK(t, env, "snapshots"); after != before {
		t.Errorf("snapshots were removed:\n%s\nthen\n%s", before, after)
	}
}

// TestForgetNamedRerun: forget A B run again after a run stopped once A
// was gone, with the same line, removes B and names A as skipped (exit 3);
// it refused, and B stayed.
func TestForgetNamedRerun(t *testing.T) {
	env := testRepoEnv(t)
	src := filepath.Join(t.TempDir(), "src")
	var ids []string
	for i := range 3 {
		writeFile(t, src, "f", []byte{byte(i)})
		out := runAppOK(t, env, "snapshot", src, "--json")
		var sum struct{ Snapshot string }
		must(t, json.Unmarshal([]byte(out), &sum))
		ids = append(ids, sum.Snapshot)
	}
	runAppOK(t, env, "forget", ids[0])
	code, out, errb := runApp(t, env, "forget", ids[0][:8], ids[1][:8])
	if code != exitPartial || !strings.Contains(errb, ids[0][:8]) || !strings.Contains(out, "removed 1 snapshot\n") {
		t.Fatalf("rerun: exit %d, want %d: %s%s", code, exitPartial, out, errb)
	}
	var left struct{ Snapshots []struct{ ID string } }
	must(t, json.Unmarshal([]byte(runAppOK(t, env, "snapshots", "--json")), &left))
	for _, m := range left.Snapshots {
		if m.ID == ids[1] {
			t.Errorf("%s is still there after the rerun", ids[1][:8])
		}
	}
	if n := len(left.Snapshots); n != 3 { // testRepoEnv's two and ids[2]
		t.Errorf("%d snapshots after the rerun, want 3", n)
	}
}

// TestForgetPolicyKeepsNothing: --keep-last=0 alone is refused (exit 2)
// as a policy that keeps nothing: the message said that no --keep-*
// option was given; beside a SNAP it was ignored.
func TestForgetPolicyKeepsNothing(t *testing.T) {
	env := testRepoEnv(t)
	code, _, errb := runApp(t, env, "forget", "--keep-last=0")
	if code != exitUsage || !strings.Contains(errb, "keep nothing") || strings.Contains(errb, "no --keep-* option") {
		t.Errorf("forget --keep-last=0: exit %d, want %d, the policy said to keep nothing\n%s", code, exitUsage, errb)
	}
	// Beside a SNAP, refused as any --keep-* option is: it was ignored.
	code, _, errb = runApp(t, env, "forget", "0123abcd", "--keep-last=0")
	if code != exitUsage || !strings.Contains(errb, "not both") {
		t.Errorf("forget SNAP --keep-last=0: exit %d, want %d\n%s", code, exitUsage, errb)
	}
}

// TestForgetTextTimeZone: forget's listing shows times in --time-zone,
// in which its periods are counted, naming the zone; it showed them in
// the local zone, where two "daily" snapshots could fall on one day.
func TestForgetTextTimeZone(t *testing.T) {
	env := testRepoEnv(t)
	out := runAppOK(t, env, "forget", "--dry-run", "--keep-daily=1", "--time-zone=Pacific/Kiritimati")
	var js struct {
		Snapshots []struct {
			Time time.Time `json:"time"`
		} `json:"snapshots"`
	}
	must(t, json.Unmarshal([]byte(runAppOK(t, env, "snapshots", "--json")), &js))
	zone, err := time.LoadLocation("Pacific/Kiritimati")
	must(t, err)
	for _, s := range js.Snapshots {
		if want := s.Time.In(zone).Format("2006-01-02 15:04:05") + " +14"; !strings.Contains(out, want) {
			t.Errorf("forget's listing lacks %q:\n%s", want, out)
		}
	}
}
