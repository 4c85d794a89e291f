package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/scheduler"
	"github.com/wimsnap/wimsnap/snapshot"
)

// defaultStatusListen is where the agent serves /status and /metrics when
// the config does not say.
const defaultStatusListen = "127.0.0.1:9465"

// Reserved task names: the maintenance tasks of [prune] and [check].
const (
	taskPrune = "prune"
	taskCheck = "check"
)

// taskKind is what a task of the agent runs.
type taskKind string

const (
	kindSnapshot taskKind = "snapshot"
	kindPrune    taskKind = taskPrune
	kindCheck    taskKind = taskCheck
)

// agentConfig is a validated agent configuration file.
type agentConfig struct {
	path     string
	repo     string   // --repo for every command; "" means the default
	repoArgs []string // flags for every repository command: --cacert, --connections, limits
	host     string
	env      map[string]string // from [credentials]: variables layered over the environment
	state    string            // the state file
	status   statusConfig
	tasks    []*taskConfig
	warnings []string // what loads but should be mended: shown by --check-config, logged at start and reload
}

// statusConfig is the [status] table.
type statusConfig struct {
	listen string // "" when off
}

// taskConfig is one task of the agent: a [[job]], [prune] or [check].
type taskConfig struct {
	name    string
	table   string // where the config defines it, such as job[2] or prune
	kind    taskKind
	sched   scheduler.Schedule
	backoff scheduler.Backoff
	sources []string   // snapshot: one snapshot per source, in order
	args    []string   // the command's flags besides --json and the repository's
	forget  []string   // snapshot: forget's policy flags after a snapshot; nil: none
	hooks   hookConfig // snapshot: pre and post hooks
	parts   int        // check: read one part of this many at each run, in turn; 0: no rotation
}

// hookConfig is a job's [job.hooks] table.
type hookConfig struct {
	pre, post []string // argv; nil: none
	timeout   time.Duration
}

// Defaults and bounds of the config's durations.
const (
	defaultHookTimeout = 10 * time.Minute
	defaultLockWait    = 10 * time.Minute
	maxConfigDuration  = 7 * 24 * time.Hour
)

// The keys of each table, mapped to the flags they stand for.
var (
	repoKeys = []flagKey{
		{"cacert", "cacert", flagPath, 0},
		{"connections", "connections", flagInt, 1},
		{"limit-upload", "limit-upload", flagInt, 0},
		{"limit-download", "limit-download", flagInt, 0},
	}
	jobKeys = []flagKey{
		{"tags", "tag", flagStrings, 0},
		{"exclude", "exclude", flagStrings, 0},
		{"exclusion-list", "config", flagPath, 0},
		{"threads", "threads", flagInt, 0},
		{"cross-mounts", "cross-mounts", flagTrue, 0},
		{"unix-data", "no-unix-data", flagFalse, 0},
		{"shadow-copy", "shadow-copy", flagTrue, 0},
		{"system-root", "system-root", flagString, 0},
	}
	imageKeys = []flagKey{
		{"name", "name", flagString, 0},
		{"description", "description", flagString, 0},
		{"display-name", "display-name", flagString, 0},
		{"flags", "flags", flagString, 0},
		{"creator", "creator", flagString, 0},
		{"version", "version", flagString, 0},
	}
	// [job.retention] is read into a scheduler.Policy (decodeRetention).
	retentionKeys = []string{"keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly",
		"keep-yearly", "keep-within", "keep-tag"}
	pruneKeys = []flagKey{{"max-unused", "max-unused", flagString, 0}, {"wait", "wait", flagString, 0}}
	checkKeys = []flagKey{{"read-data-subset", "read-data-subset", flagString, 0}, {"read-data", "read-data", flagTrue, 0}}
)

// loadAgentConfig reads and validates the config file at path. Relative
// paths in it are taken from the file's directory. Every mistake found is
// reported, joined into one error.
func (a *app) loadAgentConfig(path string) (*agentConfig, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("agent config: %w", err)
	}
	b, err := readSmallFile(path, tomlMaxSize)
	if err != nil {
		return nil, fmt.Errorf("agent config: %w", err)
	}
	return a.parseAgentConfig(path, b)
}

// parseAgentConfig decodes and validates the config document b, read from
// path (which relative paths in it are taken from).
func (a *app) parseAgentConfig(path string, b []byte) (*agentConfig, error) {
	doc, err := parseTOML(b)
	if err != nil {
		return nil, fmt.Errorf("agent config %s: %w", path, err)
	}
	var errs []error
	c := a.decodeAgentConfig(path, newCfgTable("", doc, &errs))
	errs = slices.CompactFunc(errs, func(a, b error) bool { return a.Error() == b.Error() })
	if len(errs) == 0 {
		// Values the decoder checked do not reach here twice.
		errs = a.checkTasks(c)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("agent config %s: %w", path, mistakes(errs))
	}
	return c, nil
}

func (a *app) decodeAgentConfig(path string, t *cfgTable) *agentConfig {
	dir := filepath.Dir(path)
	c := &agentConfig{path: path}
	c.repo = t.str("repository", "")
	if c.repo != "" && !isS3(c.repo) {
		c.repo = absFrom(dir, c.repo)
	}
	if isS3(c.repo) {
		if _, err := remote.ParseS3URL(c.repo); err != nil { // as every run would
			t.fail("repository", "%v", err)
		}
	}
	c.repoArgs = t.flagArgs(repoKeys, dir)
	c.host = t.str("host", "")
	zone := t.zone("time-zone", time.Local)
	jitter := t.duration("jitter", 0, 0, maxConfigDuration)
	lockWait := t.duration("lock-wait", defaultLockWait, 0, maxConfigDuration)
	c.state = t.str("state-file", "")
	if c.state != "" {
		c.state = absFrom(dir, c.state)
	}
	c.env = decodeCredentials(t.table("credentials"), dir, &c.warnings)
	c.status = decodeStatus(t.table("status"))
	names := map[string]bool{}
	for _, jt := range t.tables("job") {
		task := decodeJob(jt, dir, zone, jitter, c.host, lockWait)
		a.checkExclusionList(jt, dir)
		if task.name != "" && names[task.name] {
			jt.fail("name", "job %q is defined twice", task.name)
		}
		names[task.name] = true
		c.tasks = append(c.tasks, task)
	}
	if len(c.tasks) == 0 {
		t.fail("job", "no [[job]]: the agent would have nothing to do")
	}
	if t.has("prune") {
		c.tasks = append(c.tasks, decodeMaint(t.table("prune"), kindPrune, pruneKeys, zone, jitter, c.host))
	}
	if t.has("check") {
		c.tasks = append(c.tasks, decodeMaint(t.table("check"), kindCheck, checkKeys, zone, jitter, c.host))
	}
	t.unused(append(knownKeys(repoKeys), "repository", "host", "time-zone", "jitter", "lock-wait",
		"state-file", "credentials", "status", "job", "prune", "check")...)
	return c
}

// zone returns the time zone named at key, or def when it is absent.
func (t *cfgTable) zone(key string, def *time.Location) *time.Location {
	s := t.str(key, "")
	if s == "" {
		return def
	}
	z, err := time.LoadLocation(s)
	if err != nil {
		t.fail(key, "unknown time zone %q", s)
		return def
	}
	return z
}

// schedule reads the task's schedule and jitter; zone is its time zone.
func (t *cfgTable) schedule(zone *time.Location, jitter time.Duration, jitterKey string) scheduler.Schedule {
	jitter = t.duration("jitter", jitter, 0, maxConfigDuration)
	spec := t.str("schedule", "")
	if spec == "" {
		t.fail("schedule", "missing: say when to run, as a cron spec (\"30 2 * * *\") or \"@every 6h\"")
		return scheduler.Schedule{}
	}
	s, err := scheduler.ParseSchedule(spec, zone)
	if err != nil {
		t.fail("schedule", "%v", err)
		return s
	}
	return s.WithJitter(scheduler.Jitter(jitterKey, jitter))
}

// retry reads a task's [retry] table.
func (t *cfgTable) retry() scheduler.Backoff {
	r := t.table("retry")
	b := scheduler.Backoff{
		Initial: r.duration("initial", 0, time.Second, maxConfigDuration),
		Max:     r.duration("max", 0, time.Second, maxConfigDuration),
	}
	r.unused("initial", "max")
	return b
}

func decodeJob(t *cfgTable, dir string, zone *time.Location, jitter time.Duration, host string, lockWait time.Duration) *taskConfig {
	task := &taskConfig{kind: kindSnapshot, name: t.str("name", ""), table: t.path}
	switch {
	case task.name == "":
		t.fail("name", "missing")
	case task.name == taskPrune || task.name == taskCheck:
		t.fail("name", "%q is reserved for the [%s] table", task.name, task.name)
	case !validJobName(task.name):
		t.fail("name", "%q: use letters, digits, '-', '_' and '.'", task.name)
	}
	zone = t.zone("time-zone", zone)
	task.sched = t.schedule(zone, jitter, jitterKey(host, task.name))
	task.backoff = t.retry()
	task.sources = t.jobSources(task.name, dir)
	if len(task.sources) == 0 {
		t.fail("sources", "missing: list the directories to snapshot, such as [\"/\"]")
	}
	task.args = append(task.args, "--lock-wait="+lockWait.String())
	for _, tag := range t.strings("tags") {
		if checkLabels("", []string{tag}) != nil {
			t.fail("tags", "%q: a tag is text, not empty, without a comma (list each tag apart)", tag)
		}
	}
	task.args = append(task.args, t.flagArgs(jobKeys, dir)...)
	img := t.table("image")
	task.args = append(task.args, img.flagArgs(imageKeys, dir)...)
	img.unused(knownKeys(imageKeys)...)
	if t.has("retention") {
		task.forget = decodeRetention(t.table("retention"), zone)
	}
	task.hooks = decodeHooks(t.table("hooks"))
	t.unused(knownKeys(jobKeys, "name", "schedule", "time-zone", "jitter", "retry", "sources", "image", "retention", "hooks")...)
	return task
}

// jobSources reads the sources of the job named job: absolute (relative
// ones from dir) and cleaned, as the snapshots record them, so that
// forget's --path matches them. A path listed twice, in any spelling (on
// Windows also in another letter case), is a mistake: its snapshots would
// be taken twice a run.
func (t *cfgTable) jobSources(job, dir string) []string {
	var sources []string
	for _, s := range t.strings("sources") {
		if s = absFrom(dir, snapshot.PlainPath(s)); s != "" {
			s = filepath.Clean(s)
		}
		if slices.ContainsFunc(sources, func(p string) bool { return samePath(p, s, pathsFoldCase) }) {
			t.fail("sources", "job %q lists %s twice", job, s)
			continue
		}
		sources = append(sources, s)
	}
	return sources
}

// validJobName reports whether name is letters, digits, '-', '_' and '.'.
func validJobName(name string) bool {
	const ok = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."
	return name != "" && strings.Trim(name, ok) == ""
}

// decodeRetention returns forget's flags for the [job.retention] table,
// refusing a policy forget would refuse or that keeps nothing.
func decodeRetention(t *cfgTable, zone *time.Location) []string {
	var p scheduler.Policy
	args := []string{"--time-zone=" + zone.String()}
	errs := len(*t.errs)
	for _, k := range []struct {
		key string
		n   *int
	}{{"keep-last", &p.Last}, {"keep-hourly", &p.Hourly}, {"keep-daily", &p.Daily},
		{"keep-weekly", &p.Weekly}, {"keep-monthly", &p.Monthly}, {"keep-yearly", &p.Yearly}} {
		if t.has(k.key) {
			*k.n = int(t.integer(k.key, 0, -1, 1<<30))
			args = append(args, fmt.Sprintf("--%s=%d", k.key, *k.n))
		}
	}
	if w := t.str("keep-within", ""); w != "" {
		d, err := parseSpan(w)
		if err != nil {
			t.fail("keep-within", "%q: %v", w, err)
		}
		p.Within = d
		args = append(args, "--keep-within="+w)
	}
	p.Tags = t.strings("keep-tag")
	for _, tag := range p.Tags {
		args = append(args, "--keep-tag="+tag)
	}
	t.unused(retentionKeys...)
	if len(*t.errs) > errs {
		return args
	}
	if err := p.Validate(); err != nil {
		t.fail("", "%v", err)
	} else if p.Empty() {
		t.fail("", "no keep-* key keeps anything: a retention policy that keeps nothing is refused")
	}
	return args
}

func decodeMaint(t *cfgTable, kind taskKind, keys []flagKey, zone *time.Location, jitter time.Duration, host string) *taskConfig {
	task := &taskConfig{kind: kind, name: string(kind), table: t.path}
	zone = t.zone("time-zone", zone)
	task.sched = t.schedule(zone, jitter, jitterKey(host, task.name))
	task.backoff = t.retry()
	task.args = t.flagArgs(keys, "")
	if kind == kindPrune {
		if _, err := parseMaxUnused(t.str("max-unused", "5%")); err != nil {
			t.fail("max-unused", "%v", err)
		}
		t.duration("wait", 0, time.Millisecond, maxConfigDuration) // prune wants a positive --wait
	} else {
		subset := t.str("read-data-subset", "")
		if _, err := checkOptions(t.boolean("read-data", false), subset, subset != ""); err != nil {
			t.fail("read-data-subset", "%v", err)
		}
		task.parts = int(t.integer("read-data-parts", 0, 2, 10000))
		if task.parts > 0 && len(task.args) > 0 {
			t.fail("read-data-parts", "give read-data-parts, read-data-subset or read-data, not several")
		}
	}
	t.unused(knownKeys(keys, "schedule", "time-zone", "jitter", "retry", "read-data-parts")...)
	return task
}

// jitterKey tells this host's runs of a job from other hosts'.
func jitterKey(host, job string) string {
	if host == "" {
		host, _ = os.Hostname() // no host name: every host gets the same delay
	}
	return host + "/" + job
}

func decodeHooks(t *cfgTable) hookConfig {
	h := hookConfig{pre: t.command("pre"), post: t.command("post"),
		timeout: t.duration("timeout", defaultHookTimeout, time.Second, maxConfigDuration)}
	t.unused("pre", "post", "timeout")
	return h
}

// command reads a hook: a string is a shell command line, run by
// /bin/sh -c (cmd.exe /S /C on Windows); an array is the program and its
// arguments.
func (t *cfgTable) command(key string) []string {
	v, ok := t.m[key]
	if !ok {
		return nil
	}
	if s, isStr := v.(string); isStr {
		t.used[key] = true
		if strings.TrimSpace(s) == "" {
			t.fail(key, "empty command")
			return nil
		}
		return shellCommand(s)
	}
	argv := t.strings(key)
	if len(argv) == 0 || argv[0] == "" {
		t.fail(key, "empty command")
		return nil
	}
	return argv
}

func decodeStatus(t *cfgTable) statusConfig {
	s := statusConfig{listen: t.str("listen", defaultStatusListen)}
	allowRemote := t.boolean("allow-remote", false)
	t.unused("listen", "allow-remote")
	if s.listen == "" || s.listen == "off" {
		return statusConfig{}
	}
	host, port, err := net.SplitHostPort(s.listen)
	if err != nil {
		t.fail("listen", "%q: want HOST:PORT such as %s", s.listen, defaultStatusListen)
		return s
	}
	// The port as the listener will take it, so that a config that
	// loads (--check-config, a reload) does not fail at the start.
	if _, err := net.LookupPort("tcp", port); err != nil {
		t.fail("listen", "%q: port %q: want a number from 0 to 65535 or a service name (%v)", s.listen, port, err)
		return s
	}
	ip := net.ParseIP(host)
	if !allowRemote && (host == "" || ip == nil && host != "localhost" || ip != nil && !ip.IsLoopback()) {
		t.fail("listen", "%q is not a loopback address; the status page has no authentication, "+
			"so serving it beyond this machine needs allow-remote = true", s.listen)
	}
	return s
}

// decodeCredentials reads the [credentials] table: env-file is a file of
// VAR=value lines (as systemd's EnvironmentFile) such as
// AWS_ACCESS_KEY_ID=...; profile and shared-file select a profile of an
// AWS shared credentials file. The variables are layered over the
// agent's environment for its runs. An env-file other users may read is
// added to warnings.
func decodeCredentials(t *cfgTable, dir string, warnings *[]string) map[string]string {
	env := map[string]string{}
	if file := t.str("env-file", ""); file != "" {
		vars, err := readEnvFile(absFrom(dir, file))
		if err != nil {
			t.fail("env-file", "%v", err)
		}
		if w := exposedSecrets(absFrom(dir, file)); w != "" {
			*warnings = append(*warnings, w)
		}
		for k, v := range vars {
			env[k] = v
		}
	}
	if p := t.str("profile", ""); p != "" {
		env[envAWSProfile] = p
	}
	if f := t.str("shared-file", ""); f != "" {
		env[envAWSCredFile] = absFrom(dir, f)
	}
	t.unused("env-file", "profile", "shared-file")
	return env
}

// readEnvFile reads VAR=value lines; blank lines and lines starting with
// # are skipped, and a value may be quoted with " or '. The error never
// quotes a line: it may hold a secret.
func readEnvFile(path string) (map[string]string, error) {
	b, err := readSmallFile(path, maxEnvFile)
	if err != nil {
		return nil, err
	}
	vars := map[string]string{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("%s: line %d is not VAR=value", path, i+1)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		vars[k] = v
	}
	return vars, nil
}

// maxEnvFile bounds the size of a credentials env-file.
const maxEnvFile = 64 << 10

// readSmallFile reads the file at path, refusing one of more than limit
// bytes (or a device such as /dev/zero that never ends) rather than
// reading it whole.
func readSmallFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer closeRead(f)
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return b, nil
}

// absFrom makes a relative path p relative to dir. On Windows a path
// from a root without a drive (\Backups\repo) is on dir's drive.
func absFrom(dir, p string) string {
	switch {
	case p == "" || filepath.IsAbs(p):
		return p
	case filepath.VolumeName(p) == "" && os.IsPathSeparator(p[0]):
		return filepath.VolumeName(dir) + p
	}
	return filepath.Join(dir, p)
}

// keyError is a mistake in the value of one key of a task's table.
type keyError struct {
	key string
	err error
}

func (e *keyError) Error() string { return e.key + ": " + e.err.Error() }
func (e *keyError) Unwrap() error { return e.err }

// checkExclusionList reads and parses the job's exclusion-list, when it
// names one, as its snapshots will, so that a missing or malformed list
// is reported with the config's other mistakes (the commands' checks run
// only on a config without any).
func (a *app) checkExclusionList(jt *cfgTable, dir string) {
	v, ok := jt.get("exclusion-list")
	path, isStr := v.(string)
	switch {
	case !ok || !isStr:
		return // absent, or a type mistake the decoder reports
	case path == "":
		jt.fail("exclusion-list", "empty (leave the key out for DISM's default exclusions)")
		return
	}
	if _, err := a.loadConfig(absFrom(dir, path)); err != nil {
		jt.fail("exclusion-list", "%v", err)
	}
}

// checkTasks parses every command line the config's tasks will run, so a
// value a flag refuses is reported at load rather than at 2 a.m.
func (a *app) checkTasks(c *agentConfig) []error {
	var errs []error
	for _, t := range c.tasks {
		for _, argv := range c.commands(t, "/") {
			if err := a.checkArgs(argv); err != nil {
				where := t.table
				if ke, ok := errors.AsType[*keyError](err); ok {
					where, err = where+"."+ke.key, ke.err
				}
				errs = append(errs, fmt.Errorf("%s: %w", where, err))
			}
		}
	}
	return errs
}
