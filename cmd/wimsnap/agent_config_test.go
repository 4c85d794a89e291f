package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones below load where the system has no zoneinfo

	"github.com/wimsnap/wimsnap/scheduler"
)

// loadConfigDoc writes doc as agent.toml into a new directory, with files
// (name relative to it → contents) beside it, and loads it. It returns
// the directory as well.
func loadConfigDoc(t *testing.T, doc string, files map[string]string) (*agentConfig, string, error) {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(dir, "agent.toml")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	a, _, _ := testApp(nil)
	c, err := a.loadAgentConfig(p)
	return c, dir, err
}

// minimalJob is a [[job]] that loads; cases add to it or put root keys
// before it.
const minimalJob = `
[[job]]
name = "sys"
sources = ["/"]
schedule = "@every 6h"
`

func TestAgentConfigErrors(t *testing.T) {
	const secret = "wJalrXUtnFEMI-K7MDENG" // on a good line of an env-file: never in a message
	tests := []struct {
		name    string
		doc     string
		files   map[string]string
		want    []string // substrings of the error, all of them
		notWant []string
	}{
		{name: "unknown root key near a known one", doc: `repositry = "/r"` + minimalJob,
			want: []string{`repositry: unknown key; did you mean "repository"?`}},
		{name: "unknown key far from any", doc: `colour = "red"` + minimalJob,
			want: []string{"colour: unknown key"}, notWant: []string{"did you mean"}},
		{name: "misspelt schedule", doc: "[[job]]\nname = \"sys\"\nsources = [\"/\"]\nshedule = \"@every 6h\"\n",
			want: []string{`job[1].shedule: unknown key; did you mean "schedule"?`, "job[1].schedule: missing"}},
		{name: "misspelt retention key", doc: minimalJob + "[job.retention]\nkeep-dayly = 7\n",
			want:    []string{`job[1].retention.keep-dayly: unknown key; did you mean "keep-daily"?`},
			notWant: []string{"no keep-* key"}}, // the misspelling is the one mistake
		// The exclusion list is read as the snapshot reads it: --check-config
		// said OK, and every run failed.
		{name: "exclusion list not in a section", doc: minimalJob + "exclusion-list = \"WimScript.ini\"\n",
			files: map[string]string{"WimScript.ini": "\\pagefile.sys\r\n"},
			want:  []string{"job[1].exclusion-list: ", "WimScript.ini: ", `line 1: "\pagefile.sys" is not in a section`}},
		// Refused by the snapshot at each run; --check-config said OK.
		{name: "tag with a comma", doc: minimalJob + "tags = [\"daily,keep\", \"\"]\n",
			want: []string{`job[1].tags: "daily,keep": a tag is text`, `job[1].tags: "": a tag is text`}},
		{name: "exclude naming the root", doc: minimalJob + "exclude = [\"\\\\\"]\n",
			want: []string{`job[1].exclude: `, `"\": names no path below the capture root`}},
		{name: "exclusion list missing", doc: minimalJob + "exclusion-list = \"nowhere.ini\"\n",
			want: []string{"job[1].exclusion-list: ", "nowhere.ini: no such file"}},
		// With another mistake the list was not read, and a user who fixed
		// the first learnt of it only then.
		{name: "exclusion list missing and a typo", doc: minimalJob + "exclusion-list = \"nowhere.ini\"\ntypo-key = 1\n",
			want: []string{"job[1].typo-key: unknown key", "job[1].exclusion-list: ", "nowhere.ini: no such file"}},
		{name: "bad threads and a missing list", doc: minimalJob + "threads = -1\nexclusion-list = \"nowhere.ini\"\n",
			want: []string{"job[1].threads", "nowhere.ini: no such file"}},
		// A list of the wrong type is that one mistake (the commands' check
		// added one about an empty --config).
		{name: "exclusion list empty and a typo", doc: minimalJob + "exclusion-list = \"\"\ntypo-key = 1\n",
			want: []string{"job[1].typo-key: unknown key", "job[1].exclusion-list: empty"}, notWant: []string{"--config"}},
		{name: "exclusion list not a string", doc: minimalJob + "exclusion-list = 4\n",
			want: []string{"job[1].exclusion-list: "}, notWant: []string{"--config"}},
		{name: "misspelt image key", doc: minimalJob + "[job.image]\ndescripton = \"d\"\n",
			want: []string{`job[1].image.descripton: unknown key; did you mean "description"?`}},
		{name: "misspelt check key", doc: minimalJob + "[check]\nschedule = \"@every 24h\"\nread-dat = true\n",
			want: []string{`check.read-dat: unknown key; did you mean "read-data"?`}},
		{name: "string for an integer", doc: minimalJob + "threads = \"4\"\n",
			want: []string{"job[1].threads: want an integer, got a string"}},
		{name: "integer for a string", doc: "host = 5\n" + minimalJob,
			want: []string{"host: want a string, got an integer"}},
		{name: "string for a boolean", doc: minimalJob + "cross-mounts = \"yes\"\n",
			want: []string{"job[1].cross-mounts: want true or false, got a string"}},
		{name: "integer for an array", doc: minimalJob + "tags = 5\n",
			want: []string{"job[1].tags: want an array of strings, got an integer"}},
		{name: "integer in an array of strings", doc: "[[job]]\nname = \"sys\"\nschedule = \"@every 6h\"\nsources = [\"/\", 3]\n",
			want: []string{"job[1].sources: element 2: want a string, got an integer", "job[1].sources: missing"}},
		{name: "string for a table", doc: "credentials = \"x\"\n" + minimalJob,
			want: []string{"credentials: want a table ([credentials]), got a string"}},
		{name: "job not an array of tables", doc: "job = \"sys\"\n",
			want: []string{"job: want an array of tables ([[job]]), got a string", "job: no [[job]]"}},
		{name: "integer out of range", doc: "connections = -2\n" + minimalJob,
			want: []string{"connections: -2 is out of range"}},
		{name: "not a duration", doc: "jitter = \"soon\"\n" + minimalJob,
			want: []string{`jitter: "soon" is not a duration`}},
		{name: "duration too long", doc: "lock-wait = \"200h\"\n" + minimalJob,
			want: []string{"lock-wait: 200h0m0s is out of range [0s, 168h0m0s]"}},
		{name: "retry below a second", doc: minimalJob + "[job.retry]\ninitial = \"500ms\"\nmaxx = \"1h\"\n",
			want: []string{"job[1].retry.initial: 500ms is out of range [1s, 168h0m0s]",
				`job[1].retry.maxx: unknown key; did you mean "max"?`}},
		{name: "missing schedule", doc: "[[job]]\nname = \"sys\"\nsources = [\"/\"]\n",
			want: []string{"job[1].schedule: missing"}},
		{name: "bad cron spec", doc: "[[job]]\nname = \"sys\"\nsources = [\"/\"]\nschedule = \"30 2 * *\"\n",
			want: []string{`job[1].schedule: invalid schedule "30 2 * *": 4 fields, want 5`}},
		{name: "cron spec never due", doc: "[[job]]\nname = \"sys\"\nsources = [\"/\"]\nschedule = \"0 0 30 2 *\"\n",
			want: []string{"job[1].schedule: ", "never due"}},
		{name: "maintenance without schedule", doc: minimalJob + "[prune]\nmax-unused = \"10%\"\n",
			want: []string{"prune.schedule: missing"}},
		{name: "unknown root time zone", doc: "time-zone = \"Mars/Olympus\"\n" + minimalJob,
			want: []string{`time-zone: unknown time zone "Mars/Olympus"`}},
		{name: "unknown job time zone", doc: minimalJob + "time-zone = \"Europe/Atlantis\"\n",
			want: []string{`job[1].time-zone: unknown time zone "Europe/Atlantis"`}},
		{name: "missing sources", doc: "[[job]]\nname = \"sys\"\nschedule = \"@every 6h\"\n",
			want: []string{"job[1].sources: missing"}},
		{name: "empty sources", doc: "[[job]]\nname = \"sys\"\nschedule = \"@every 6h\"\nsources = []\n",
			want: []string{"job[1].sources: missing"}},
		{name: "no job", doc: "host = \"lab1\"\n",
			want: []string{"job: no [[job]]: the agent would have nothing to do"}},
		{name: "job without name", doc: "[[job]]\nsources = [\"/\"]\nschedule = \"@every 6h\"\n",
			want: []string{"job[1].name: missing"}},
		{name: "job name with a quote", doc: "[[job]]\nname = 'a\"b'\nsources = [\"/\"]\nschedule = \"@every 6h\"\n",
			want: []string{`job[1].name: "a\"b": use letters, digits`}},
		{name: "duplicate job names", doc: minimalJob + minimalJob,
			want: []string{`job[2].name: job "sys" is defined twice`}, notWant: []string{"job[1].name"}},
		{name: "job named prune", doc: "[[job]]\nname = \"prune\"\nsources = [\"/\"]\nschedule = \"@every 6h\"\n",
			want: []string{`job[1].name: "prune" is reserved for the [prune] table`}},
		{name: "job named check", doc: "[[job]]\nname = \"check\"\nsources = [\"/\"]\nschedule = \"@every 6h\"\n",
			want: []string{`job[1].name: "check" is reserved for the [check] table`}},
		{name: "status on every address", doc: minimalJob + "[status]\nlisten = \"0.0.0.0:9465\"\n",
			want: []string{`status.listen: "0.0.0.0:9465" is not a loopback address`, "allow-remote = true"}},
		{name: "status with empty host", doc: minimalJob + "[status]\nlisten = \":9465\"\n",
			want: []string{`status.listen: ":9465" is not a loopback address`}},
		{name: "status on a host name", doc: minimalJob + "[status]\nlisten = \"backup.example.com:9465\"\n",
			want: []string{`status.listen: "backup.example.com:9465" is not a loopback address`}},
		{name: "status remote, allow-remote false", doc: minimalJob + "[status]\nlisten = \"10.0.0.1:9465\"\nallow-remote = false\n",
			want: []string{`status.listen: "10.0.0.1:9465" is not a loopback address`}},
		{name: "status without port", doc: minimalJob + "[status]\nlisten = \"127.0.0.1\"\n",
			want: []string{`status.listen: "127.0.0.1": want HOST:PORT`}},
		{name: "status port too large", doc: minimalJob + "[status]\nlisten = \"127.0.0.1:99999\"\n",
			want: []string{`status.listen: "127.0.0.1:99999": port "99999": want a number from 0 to 65535 or a service name`}},
		{name: "status port a word", doc: minimalJob + "[status]\nlisten = \"localhost:abc\"\n",
			want: []string{`status.listen: "localhost:abc": port "abc"`}},
		{name: "status port negative", doc: minimalJob + "[status]\nlisten = \"localhost:-5\"\n",
			want: []string{`status.listen: "localhost:-5": port "-5"`}},
		{name: "allow-remote not a boolean", doc: minimalJob + "[status]\nallow-remote = \"yes\"\n",
			want: []string{"status.allow-remote: want true or false, got a string"}},
		{name: "retention without keep key", doc: minimalJob + "[job.retention]\n",
			want: []string{"job[1].retention: no keep-* key keeps anything"}},
		{name: "retention with empty keep-tag", doc: minimalJob + "[job.retention]\nkeep-tag = []\n",
			want: []string{"job[1].retention: no keep-* key"}},
		{name: "bad keep-within", doc: minimalJob + "[job.retention]\nkeep-within = \"soon\"\n",
			want: []string{`job[1].retention.keep-within: "soon": want a span such as 7d`}},
		{name: "keep-within not positive", doc: minimalJob + "[job.retention]\nkeep-within = \"0d\"\n",
			want: []string{`job[1].retention.keep-within: "0d": want a positive span`}},
		{name: "empty hook string", doc: minimalJob + "[job.hooks]\npre = \"  \"\n",
			want: []string{"job[1].hooks.pre: empty command"}},
		{name: "empty hook array", doc: minimalJob + "[job.hooks]\npost = []\n",
			want: []string{"job[1].hooks.post: empty command"}},
		{name: "hook array with empty program", doc: minimalJob + "[job.hooks]\npre = [\"\", \"x\"]\n",
			want: []string{"job[1].hooks.pre: empty command"}},
		{name: "hook not a command", doc: minimalJob + "[job.hooks]\npre = 7\n",
			want: []string{"job[1].hooks.pre: want an array of strings, got an integer"}},
		{name: "hook timeout too short", doc: minimalJob + "[job.hooks]\npre = \"true\"\ntimeout = \"100ms\"\n",
			want: []string{"job[1].hooks.timeout: 100ms is out of range [1s, 168h0m0s]"}},
		{name: "syntax error", doc: "host = \"lab1\"\n\n[[job]\nname = \"sys\"\n",
			want: []string{"line 3"}},
		{name: "unterminated string", doc: "[[job]]\nname = \"sys\nsources = [\"/\"]\n",
			want: []string{"line 2"}},
		{name: "env-file missing", doc: "[credentials]\nenv-file = \"nope.env\"\n" + minimalJob,
			want: []string{"credentials.env-file: open ", "nope.env"}},
		{name: "env-file with a malformed line", doc: "[credentials]\nenv-file = \"s3.env\"\n" + minimalJob,
			files: map[string]string{"s3.env": "AWS_ACCESS_KEY_ID=AKIAEXAMPLE\nAWS_SECRET_ACCESS_KEY=" + secret +
				"\nAWS_REGION eu-west-1\n"},
			want:    []string{"credentials.env-file: ", "s3.env: line 3 is not VAR=value"},
			notWant: []string{secret, "eu-west-1", "AKIAEXAMPLE"}},
		{name: "env-file line that is a bare secret", doc: "[credentials]\nenv-file = \"s3.env\"\n" + minimalJob,
			files:   map[string]string{"s3.env": "# keys\nAWS_ACCESS_KEY_ID=AKIAEXAMPLE\n" + secret + "\n"},
			want:    []string{"s3.env: line 3 is not VAR=value"},
			notWant: []string{secret}},
		// Values the commands refuse, found at load rather than at run.
		{name: "prune wait not a duration", doc: minimalJob + "[prune]\nschedule = \"@every 24h\"\nwait = \"lots\"\n",
			want: []string{`prune.wait: "lots" is not a duration`}},
		{name: "prune max-unused", doc: minimalJob + "[prune]\nschedule = \"@every 24h\"\nmax-unused = \"lots\"\n",
			want: []string{`prune.max-unused: `}},
		{name: "check subset out of range", doc: minimalJob + "[check]\nschedule = \"@every 24h\"\nread-data-subset = \"9/7\"\n",
			want: []string{`check.read-data-subset: `}},
		{name: "check parts beside a subset", doc: minimalJob + "[check]\nschedule = \"@every 24h\"\nread-data-subset = \"1/7\"\nread-data-parts = 7\n",
			want: []string{`check.read-data-parts: give read-data-parts, read-data-subset or read-data, not several`}},
		{name: "check parts of one", doc: minimalJob + "[check]\nschedule = \"@every 24h\"\nread-data-parts = 1\n",
			want: []string{`check.read-data-parts: 1 is out of range [2, 10000]`}},
		{name: "connections zero", doc: "connections = 0\n" + minimalJob, want: []string{`connections: 0 is out of range [1, `}},
		{name: "threads negative", doc: strings.Replace(minimalJob, "[[job]]\n", "[[job]]\nthreads = -1\n", 1),
			want: []string{`job[1].threads: -1 is out of range [0, `}},
		// Accepted at load, then: the agent died of running out of memory
		// (threads), every prune failed (wait), every snapshot failed
		// (a lone empty exclusion), every run failed (the URL).
		{name: "threads absurd", doc: strings.Replace(minimalJob, "[[job]]\n", "[[job]]\nthreads = 1099511627776\n", 1),
			want: []string{`job[1].threads: 1099511627776 is out of range [0, 1024]`}},
		{name: "prune wait zero", doc: minimalJob + "[prune]\nschedule = \"@every 24h\"\nwait = \"0s\"\n",
			want: []string{`prune.wait: 0s is out of range [1ms, `}},
		{name: "lone empty exclusion", doc: minimalJob + "exclude = [\"\"]\n",
			want: []string{`job[1].exclude: snapshot: bad capture configuration: "": names no path below the capture root`}},
		{name: "repository URL", doc: `repository = "s3:ftp://127.0.0.1/bkt/x"` + "\n" + minimalJob,
			want: []string{`repository: remote: s3 URL: scheme "ftp": want http or https`}},
		{name: "retention keeps nothing", doc: minimalJob + "[job.retention]\nkeep-last = 0\n",
			want: []string{`job[1].retention: no keep-* key keeps anything`}},
		{name: "retention below -1", doc: minimalJob + "[job.retention]\nkeep-daily = -2\n",
			want: []string{`job[1].retention.keep-daily: -2 is out of range [-1, `}},
		{name: "job name with a space", doc: strings.Replace(minimalJob, `name = "sys"`, `name = "my job"`, 1),
			want: []string{`job[1].name: "my job": use letters, digits`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, dir, err := loadConfigDoc(t, tt.doc, tt.files)
			if err == nil {
				t.Fatalf("loaded %+v, want an error", c)
			}
			msg := err.Error()
			if prefix := "agent config " + filepath.Join(dir, "agent.toml") + ": "; !strings.HasPrefix(msg, prefix) {
				t.Errorf("error %q does not start with %q", msg, prefix)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q\ndoes not contain %q", msg, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(msg, w) {
					t.Errorf("error %q\ncontains %q", msg, w)
				}
			}
		})
	}
}

// TestAgentConfigAllErrors checks that one load reports every mistake of
// a document, each in its own line.
func TestAgentConfigAllErrors(t *testing.T) {
	doc := `repositry = "/r"
host = 5
[status]
listen = "0.0.0.0:9465"
[[job]]
name = "sys"
sources = ["/"]
schedule = "61 * * * *"
threads = "4"
[job.retention]
[job.hooks]
pre = ""
[[job]]
name = "check"
`
	_, _, err := loadConfigDoc(t, doc, nil)
	if err == nil {
		t.Fatal("loaded, want an error")
	}
	want := []string{
		`repositry: unknown key; did you mean "repository"?`,
		"host: want a string, got an integer",
		`status.listen: "0.0.0.0:9465" is not a loopback address`,
		`job[1].schedule: invalid schedule "61 * * * *"`,
		"job[1].threads: want an integer, got a string",
		"job[1].retention: no keep-* key",
		"job[1].hooks.pre: empty command",
		`job[2].name: "check" is reserved`,
		"job[2].schedule: missing",
		"job[2].sources: missing",
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error does not report %q:\n%s", w, msg)
		}
	}
	if lines := strings.Count(msg, "\n") + 1; lines != len(want) {
		t.Errorf("error has %d lines, want one per mistake (%d):\n%s", lines, len(want), msg)
	}
}

// fullConfig uses every key of the agent's config file.
const fullConfig = `
repository = "repo"          # relative: from the config file's directory
host = "lab1"
time-zone = "Europe/Berlin"
jitter = "30m"
lock-wait = "5m"
state-file = "state/agent.json"
cacert = "/etc/ssl/lab-ca.pem"
connections = 8
limit-upload = 1024
limit-download = 2048

[credentials]
env-file = "s3.env"
profile = "backup"
shared-file = "aws/credentials"

[status]
listen = "127.0.0.1:9999"
allow-remote = false

[[job]]
name = "system"
sources = ["/", "srv"]
schedule = "30 2 * * *"
tags = ["nightly", "system"]
exclude = ["/var/tmp/*", "*.iso"]
exclusion-list = "exclusions.ini"
threads = 4
cross-mounts = true
unix-data = false
system-root = "WINDOWS"
[job.image]
name = "System"
description = "The system disk"
display-name = "System disk"
flags = "Professional"
creator = "ops"
version = "1.0"
[job.retention]
keep-last = 3
keep-hourly = 24
keep-daily = 7
keep-weekly = 4
keep-monthly = 12
keep-yearly = -1
keep-within = "2w"
keep-tag = ["golden", "keep"]
[job.hooks]
pre = "systemctl stop db && echo stopped"
post = ["/usr/local/bin/after-backup", "--quiet"]
timeout = "90s"
[job.retry]
initial = "30s"
max = "20m"

[[job]]
name = "home"
sources = "home"
schedule = "@every 6h"
time-zone = "America/New_York"
jitter = "0s"
cross-mounts = false
unix-data = true
[job.retention]
keep-last = 5

[prune]
schedule = "0 4 * * 0"
max-unused = "10%"
wait = "45m"
[prune.retry]
initial = "2m"

[check]
schedule = "0 5 1 * *"
time-zone = "UTC"
jitter = "1h"
read-data-subset = "1/7"
`

func TestAgentConfigCommands(t *testing.T) {
	c, dir, err := loadConfigDoc(t, fullConfig, map[string]string{
		"s3.env":         "# lab\nexport AWS_ACCESS_KEY_ID=AKIAEXAMPLE\nAWS_SECRET_ACCESS_KEY=\"s3cr3t value\"\n",
		"exclusions.ini": "[ExclusionList]\r\n\\pagefile.sys\r\n",
	})
	if err != nil {
		t.Fatal(err)
	}
	repo := []string{"--repo=" + filepath.Join(dir, "repo"), "--cacert=/etc/ssl/lab-ca.pem",
		"--connections=8", "--limit-upload=1024", "--limit-download=2048"}
	line := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	systemArgs := []string{"--host=lab1", "--lock-wait=5m0s", "--tag=nightly", "--tag=system",
		"--exclude=/var/tmp/*", "--exclude=*.iso", "--config=" + filepath.Join(dir, "exclusions.ini"), "--threads=4",
		"--cross-mounts", "--no-unix-data", "--system-root=WINDOWS", "--name=System", "--description=The system disk",
		"--display-name=System disk", "--flags=Professional", "--creator=ops", "--version=1.0"}
	systemPolicy := []string{"--time-zone=Europe/Berlin", "--keep-last=3", "--keep-hourly=24", "--keep-daily=7",
		"--keep-weekly=4", "--keep-monthly=12", "--keep-yearly=-1", "--keep-within=2w",
		"--keep-tag=golden", "--keep-tag=keep"}
	srv, home := filepath.Join(dir, "srv"), filepath.Join(dir, "home")

	type want struct {
		kind     taskKind
		spec     string
		zone     string
		jitter   time.Duration // the limit; the delay is scheduler.Jitter's for "lab1/name"
		backoff  scheduler.Backoff
		sources  []string
		commands [][][]string // for each source (one entry for prune and check)
		hooks    hookConfig
	}
	wants := map[string]want{
		"system": {kind: kindSnapshot, spec: "30 2 * * *", zone: "Europe/Berlin", jitter: 30 * time.Minute,
			backoff: scheduler.Backoff{Initial: 30 * time.Second, Max: 20 * time.Minute},
			sources: []string{"/", srv},
			commands: [][][]string{
				{
					line([]string{"snapshot", "--json"}, repo, systemArgs, []string{"--", "/"}),
					line([]string{"forget", "--json"}, repo, []string{"--host=lab1", "--path=/"}, systemPolicy),
				},
				{
					line([]string{"snapshot", "--json"}, repo, systemArgs, []string{"--", srv}),
					line([]string{"forget", "--json"}, repo, []string{"--host=lab1", "--path=" + srv}, systemPolicy),
				},
			},
			hooks: hookConfig{
				pre:     []string{"/bin/sh", "-c", "systemctl stop db && echo stopped"},
				post:    []string{"/usr/local/bin/after-backup", "--quiet"},
				timeout: 90 * time.Second,
			}},
		"home": {kind: kindSnapshot, spec: "@every 6h", zone: "America/New_York",
			sources: []string{home},
			commands: [][][]string{{
				line([]string{"snapshot", "--json"}, repo, []string{"--host=lab1", "--lock-wait=5m0s", "--", home}),
				line([]string{"forget", "--json"}, repo, []string{"--host=lab1", "--path=" + home,
					"--time-zone=America/New_York", "--keep-last=5"}),
			}},
			hooks: hookConfig{timeout: defaultHookTimeout}},
		"prune": {kind: kindPrune, spec: "0 4 * * 0", zone: "Europe/Berlin", jitter: 30 * time.Minute,
			backoff: scheduler.Backoff{Initial: 2 * time.Minute},
			commands: [][][]string{{
				line([]string{"prune", "--json"}, repo, []string{"--max-unused=10%", "--wait=45m"}),
			}}},
		"check": {kind: kindCheck, spec: "0 5 1 * *", zone: "UTC", jitter: time.Hour,
			commands: [][][]string{{
				line([]string{"check", "--json"}, repo, []string{"--read-data-subset=1/7"}),
			}}},
	}

	var names []string
	for _, task := range c.tasks {
		names = append(names, task.name)
	}
	if wantNames := []string{"system", "home", "prune", "check"}; !reflect.DeepEqual(names, wantNames) {
		t.Fatalf("tasks %q, want %q", names, wantNames)
	}
	for _, task := range c.tasks {
		t.Run(task.name, func(t *testing.T) {
			w := wants[task.name]
			if task.kind != w.kind {
				t.Errorf("kind %q, want %q", task.kind, w.kind)
			}
			if got := task.sched.String(); got != w.spec {
				t.Errorf("schedule %q, want %q", got, w.spec)
			}
			if got := task.sched.Location().String(); got != w.zone {
				t.Errorf("zone %q, want %q", got, w.zone)
			}
			if got, want := task.sched.Jitter(), scheduler.Jitter("lab1/"+task.name, w.jitter); got != want {
				t.Errorf("jitter %v, want %v (limit %v)", got, want, w.jitter)
			}
			if task.backoff != w.backoff {
				t.Errorf("backoff %+v, want %+v", task.backoff, w.backoff)
			}
			if !reflect.DeepEqual(task.sources, w.sources) {
				t.Errorf("sources %q, want %q", task.sources, w.sources)
			}
			if !reflect.DeepEqual(task.hooks, w.hooks) {
				t.Errorf("hooks %+v, want %+v", task.hooks, w.hooks)
			}
			sources := task.sources
			if task.kind != kindSnapshot {
				sources = []string{""}
			}
			if len(sources) != len(w.commands) {
				t.Fatalf("%d sources, want commands for %d", len(sources), len(w.commands))
			}
			for i, src := range sources {
				if got := c.commands(task, src); !reflect.DeepEqual(got, w.commands[i]) {
					t.Errorf("commands for %q:\n got %q\nwant %q", src, got, w.commands[i])
				}
			}
		})
	}

	wantEnv := map[string]string{
		"AWS_ACCESS_KEY_ID":           "AKIAEXAMPLE",
		"AWS_SECRET_ACCESS_KEY":       "s3cr3t value",
		"AWS_PROFILE":                 "backup",
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "aws", "credentials"),
	}
	if !reflect.DeepEqual(c.env, wantEnv) {
		t.Errorf("env %q, want %q", c.env, wantEnv)
	}
	if c.status.listen != "127.0.0.1:9999" {
		t.Errorf("status listen %q, want 127.0.0.1:9999", c.status.listen)
	}
	if want := filepath.Join(dir, "state", "agent.json"); c.state != want {
		t.Errorf("state file %q, want %q", c.state, want)
	}
	if c.hostName() != "lab1" {
		t.Errorf("host %q, want lab1", c.hostName())
	}
}

// TestAgentConfigRepository checks how the repository key becomes --repo.
func TestAgentConfigRepository(t *testing.T) {
	tests := []struct {
		name string
		line string // the repository line; "" for none
		want string // the value of --repo, "{dir}" for the config's directory; "" for no --repo
	}{
		{name: "relative to the config file", line: `repository = "backups/repo"`, want: "{dir}/backups/repo"},
		{name: "absolute", line: `repository = "/srv/repo"`, want: "/srv/repo"},
		{name: "s3 is not a path", line: `repository = "s3:https://minio.lab:9000/bucket/wimsnap"`,
			want: "s3:https://minio.lab:9000/bucket/wimsnap"},
		{name: "absent: the commands' default", line: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, dir, err := loadConfigDoc(t, tt.line+"\n"+minimalJob, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"snapshot", "--json"}
			if tt.want != "" {
				want = append(want, "--repo="+strings.Replace(tt.want, "{dir}", dir, 1))
			}
			want = append(want, "--host="+c.hostName(), "--lock-wait="+defaultLockWait.String(), "--", "/")
			if got := c.commands(c.tasks[0], "/"); !reflect.DeepEqual(got, [][]string{want}) {
				t.Errorf("commands %q, want [%q]", got, want)
			}
		})
	}
}

// TestAgentConfigStatus checks the [status] addresses that load.
func TestAgentConfigStatus(t *testing.T) {
	tests := []struct {
		name   string
		status string // the [status] table; "" for none
		want   string // the address served; "" for off
	}{
		{name: "default", want: defaultStatusListen},
		{name: "off", status: "listen = \"off\"", want: ""},
		{name: "empty is off", status: "listen = \"\"", want: ""},
		{name: "off with allow-remote", status: "listen = \"off\"\nallow-remote = true", want: ""},
		{name: "loopback port", status: "listen = \"127.0.0.1:19465\"", want: "127.0.0.1:19465"},
		{name: "other loopback address", status: "listen = \"127.0.0.2:19465\"", want: "127.0.0.2:19465"},
		{name: "localhost", status: "listen = \"localhost:19465\"", want: "localhost:19465"},
		{name: "IPv6 loopback", status: "listen = \"[::1]:19465\"", want: "[::1]:19465"},
		{name: "every address with allow-remote", status: "listen = \"0.0.0.0:9465\"\nallow-remote = true",
			want: "0.0.0.0:9465"},
		{name: "host name with allow-remote", status: "listen = \"backup.example.com:9465\"\nallow-remote = true",
			want: "backup.example.com:9465"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := minimalJob
			if tt.status != "" {
				doc += "[status]\n" + tt.status + "\n"
			}
			c, _, err := loadConfigDoc(t, doc, nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.status.listen != tt.want {
				t.Errorf("listen %q, want %q", c.status.listen, tt.want)
			}
		})
	}
}

func TestReadEnvFile(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    map[string]string
		wantErr string // a substring of the error; "" for none
	}{
		{name: "plain", text: "A=1\nB=two words\n", want: map[string]string{"A": "1", "B": "two words"}},
		{name: "empty file", text: "", want: map[string]string{}},
		{name: "comments and blank lines", text: "# comment\n\n   # indented comment\nA=1\n\n",
			want: map[string]string{"A": "1"}},
		{name: "export prefix", text: "export A=1\nexport B=\"x\"\n", want: map[string]string{"A": "1", "B": "x"}},
		{name: "double quotes", text: `A="x y"`, want: map[string]string{"A": "x y"}},
		{name: "single quotes", text: `A='x "y"'`, want: map[string]string{"A": `x "y"`}},
		{name: "unmatched quotes kept", text: "A=\"x'\nB=\"\nC='x", want: map[string]string{"A": `"x'`, "B": `"`, "C": "'x"}},
		{name: "empty quotes", text: `A=""`, want: map[string]string{"A": ""}},
		{name: "spaces around", text: "  A = 1  \n", want: map[string]string{"A": "1"}},
		{name: "CRLF", text: "A=1\r\nB=2\r\n", want: map[string]string{"A": "1", "B": "2"}},
		{name: "empty value", text: "A=\n", want: map[string]string{"A": ""}},
		{name: "equals in value", text: "A=b=c==\n", want: map[string]string{"A": "b=c=="}},
		{name: "hash in value", text: "A=x#y\n", want: map[string]string{"A": "x#y"}},
		{name: "later line wins", text: "A=1\nA=2\n", want: map[string]string{"A": "2"}},
		{name: "no equals", text: "A=1\nNOTHING\n", wantErr: "line 2 is not VAR=value"},
		{name: "no name", text: "=value\n", wantErr: "line 1 is not VAR=value"},
		{name: "space in name", text: "MY VAR=x\n", wantErr: "line 1 is not VAR=value"},
		{name: "line count includes comments", text: "# c\n\nA=1\nB\n", wantErr: "line 4 is not VAR=value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "vars.env")
			if err := os.WriteFile(p, []byte(tt.text), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := readEnvFile(p)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), p) {
					t.Fatalf("err = %v, want one naming %s and saying %q", err, p, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := readEnvFile(filepath.Join(t.TempDir(), "none.env"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("err = %v, want fs.ErrNotExist", err)
		}
	})
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"", "abc", 3},
		{"abc", "", 3},
		{"same", "same", 0},
		{"shedule", "schedule", 1},
		{"keep-dayly", "keep-daily", 1},
		{"ab", "ba", 2},
		{"kitten", "sitting", 3},
		{"flaw", "lawn", 2},
	}
	for _, tt := range tests {
		t.Run(tt.a+"/"+tt.b, func(t *testing.T) {
			if got := editDistance(tt.a, tt.b); got != tt.want {
				t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
			if got := editDistance(tt.b, tt.a); got != tt.want {
				t.Errorf("editDistance(%q, %q) = %d, want %d", tt.b, tt.a, got, tt.want)
			}
		})
	}
}

func TestEditDistanceNearest(t *testing.T) {
	tests := []struct {
		name  string
		key   string
		known []string
		want  string
	}{
		{name: "one edit", key: "shedule", known: []string{"name", "schedule", "sources"}, want: "schedule"},
		{name: "two edits", key: "sorcs", known: []string{"name", "schedule", "sources"}, want: "sources"},
		{name: "closest wins", key: "keep-weakly", known: []string{"keep-yearly", "keep-weekly"}, want: "keep-weekly"},
		{name: "retention keys", key: "keep-dayly", known: retentionKeys, want: "keep-daily"},
		{name: "three edits is too far", key: "naxyz", known: []string{"name"}, want: ""},
		{name: "nothing near", key: "colour", known: []string{"name", "schedule"}, want: ""},
		{name: "nothing known", key: "name", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nearest(tt.key, tt.known); got != tt.want {
				t.Errorf("nearest(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

// TestCheckArgs checks the parse of a command line without running it.
func TestCheckArgs(t *testing.T) {
	a, out, errb := testApp(nil)
	if err := a.checkArgs([]string{"snapshot", "--json", "--threads=2", "--", "/"}); err != nil {
		t.Errorf("good line: %v", err)
	}
	for _, bad := range [][]string{
		{"snapshot", "--threads=x", "/"},
		{"snapshot", "--no-such-flag", "/"},
		{"snapshot", "/a", "/b"},
		{"prune", "--wait=lots"},
	} {
		if err := a.checkArgs(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if a.json || out.Len() > 0 || errb.Len() > 0 {
		t.Errorf("checkArgs changed its app: json %v, stdout %q, stderr %q", a.json, out, errb)
	}
}

// TestAgentConfigEndless: a config or env-file that never ends (a device)
// is refused, not read until memory runs out.
func TestAgentConfigEndless(t *testing.T) {
	a, _, _ := testApp(nil)
	if _, err := a.loadAgentConfig("/dev/zero"); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("config /dev/zero: %v", err)
	}
	_, _, err := loadConfigDoc(t, "[credentials]\nenv-file = \"/dev/zero\"\n"+minimalJob, nil)
	if err == nil || !strings.Contains(err.Error(), "credentials.env-file: /dev/zero: larger than") {
		t.Errorf("env-file /dev/zero: %v", err)
	}
}

// FuzzAgentConfig decodes arbitrary documents: never a panic, and a
// config that loads has a task for each job and a schedule for each task.
func FuzzAgentConfig(f *testing.F) {
	for _, seed := range []string{minimalJob, "repository = \"r\"\n[status]\nlisten = \"off\"\n" + minimalJob +
		"[job.retention]\nkeep-last = 2\n[job.hooks]\npre = \"true\"\n[prune]\nschedule = \"@every 1h\"\n[check]\nschedule = \"0 5 * * *\"\nread-data-parts = 7\n",
		"[[job]]\nname = \"a\"\nsources = \"/\"\nschedule = \"CRON_TZ=Europe/Berlin 30 2 * * *\"\n[job.image]\nname = 1\n"} {
		f.Add([]byte(seed))
	}
	if b, err := os.ReadFile("../../docs/agent.example.toml"); err == nil {
		f.Add(b)
	}
	dir := f.TempDir()
	a, _, _ := testApp(nil)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := a.parseAgentConfig(filepath.Join(dir, "agent.toml"), b)
		if err != nil {
			return
		}
		if len(c.tasks) == 0 {
			t.Fatal("a config without tasks loaded")
		}
		for _, task := range c.tasks {
			if task.sched.String() == "" || task.kind == kindSnapshot && len(task.sources) == 0 {
				t.Fatalf("task %+v loaded", task)
			}
		}
	})
}

// TestCheckConfigShowsParts: --check-config prints the check with
// read-data-parts as it runs, with --read-data-subset=k/N: it left the
// flag out, so the config looked as if no data were read.
func TestCheckConfigShowsParts(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "agent.toml")
	if err := os.WriteFile(cfg, []byte(minimalJob+"[check]\nschedule = \"@every 24h\"\nread-data-parts = 7\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := runAppOK(t, nil, "agent", "--check-config", "--config="+cfg)
	if !strings.Contains(out, "runs: wimsnap check --json") || !strings.Contains(out, "--read-data-subset=k/7") {
		t.Errorf("--check-config:\n%s\nwant the check with --read-data-subset=k/7", out)
	}
}
