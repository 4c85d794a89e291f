//go:build unix

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/wimsnap/wimsnap/remote/miniotest"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// newS3Env returns a repoEnv for the repository under the prefix "repo" of
// bucket, reached at endpoint (srv.URL, or the URL of a proxy in front of
// srv) with srv's credentials, with its own cache and home directories.
func newS3Env(t *testing.T, bin string, srv *miniotest.Server, endpoint, bucket string) *repoEnv {
	t.Helper()
	dir := t.TempDir()
	r := &repoEnv{bin: bin, cache: filepath.Join(dir, "cache")}
	r.env = []string{"HOME=" + filepath.Join(dir, "home"), envCacheDir + "=" + r.cache,
		envAWSKey + "=" + srv.AccessKey, envAWSSecret + "=" + srv.SecretKey}
	return r.at(endpoint + "/" + bucket + "/repo")
}

// at returns a copy of r for the S3 location loc ("http://host:port/
// bucket/prefix") with extra added to the environment; the cache and
// home directories are r's, as for one machine reaching the repository by
// another way.
func (r *repoEnv) at(loc string, extra ...string) *repoEnv {
	c := *r
	c.repo = "s3:" + loc
	c.env = append(slices.Clip(r.env), envRepository+"="+c.repo)
	c.env = append(c.env, extra...)
	return &c
}

// with returns a copy of r with extra added to the environment.
func (r *repoEnv) with(extra ...string) *repoEnv {
	c := *r
	c.env = append(slices.Clip(r.env), extra...)
	return &c
}

// freshBucket returns a bucket name that does not exist yet.
func freshBucket() string { return "wimsnap-e2e-" + strings.ToLower(rand.Text()) }

// bucketExists reports whether bucket exists on srv.
func bucketExists(t *testing.T, srv *miniotest.Server, bucket string) bool {
	t.Helper()
	ok, err := srv.Client(t).BucketExists(t.Context(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// addBigFiles writes n files of size random bytes under dir/big, from
// seeds first, first+1, ...
func addBigFiles(t *testing.T, dir string, first uint64, n, size int) {
	t.Helper()
	for i := range n {
		writeFile(t, dir, fmt.Sprintf("big/%02d.bin", i), randomBytes(first+uint64(i), size))
	}
}

// retryLines returns the lines of stderr that announce a retry, and the
// other non-empty lines.
func retryLines(stderr string) (retries, others []string) {
	for line := range strings.Lines(stderr) {
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
		case strings.Contains(line, "retrying in"):
			retries = append(retries, line)
		default:
			others = append(others, line)
		}
	}
	return retries, others
}

// lastLine returns the last line of s.
func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// requireOneError fails the test unless stderr is one "wimsnap: " error
// line (after any retry notes) matching want, with no stack trace and
// none of the secrets in it or in stdout.
func requireOneError(t *testing.T, what string, res result, want *regexp.Regexp, secrets ...string) {
	t.Helper()
	_, others := retryLines(res.stderr)
	t.Logf("%s: %q", what, others)
	if len(others) != 1 || !strings.HasPrefix(others[0], "wimsnap: ") || !want.MatchString(others[0]) {
		t.Errorf("%s: want one error line matching %q, stderr:\n%s", what, want, res.stderr)
	}
	if strings.Contains(res.stderr, "goroutine ") || strings.Contains(res.stderr, "panic") {
		t.Errorf("%s: stderr has a stack trace:\n%s", what, res.stderr)
	}
	for _, s := range secrets {
		if strings.Contains(res.stdout+res.stderr, s) {
			t.Errorf("%s: a secret is in the output", what)
		}
	}
}

// timedRun runs r's binary with args and fails the test unless it exits
// with want within limit; it kills the process if it runs twice as long.
// It returns the result and how long the run took.
func timedRun(t *testing.T, r *repoEnv, want int, limit time.Duration, args ...string) (result, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, r.env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	res := result{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run %v: %v", args, err)
	}
	if res.code != want {
		t.Errorf("wimsnap %s: exit %d, want %d\nstdout: %s\nstderr: %s",
			strings.Join(args, " "), res.code, want, res.stdout, res.stderr)
	}
	if took > limit {
		t.Errorf("wimsnap %s took %v, want at most %v", strings.Join(args, " "), took.Round(time.Millisecond), limit)
	}
	return res, took
}

// Keys of an S3 repository under the prefix "repo" (docs/repository.md,
// "Layout").
var (
	packKey    = regexp.MustCompile(`^repo/packs/([0-9a-f]{2})/([0-9a-f]{64})$`)
	hashedKey  = regexp.MustCompile(`^repo/(?:index|snapshots)/([0-9a-f]{64})$`)
	configKey  = "repo/config"
	keyExample = "repo/config, repo/packs/<aa>/<id>, repo/index/<id>, repo/snapshots/<id>"
)

// listKeys returns the keys of bucket under prefix.
func listKeys(t *testing.T, srv *miniotest.Server, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	opts := minio.ListObjectsOptions{Prefix: prefix, Recursive: true}
	for obj := range srv.Client(t).ListObjectsIter(t.Context(), bucket, opts) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		keys = append(keys, obj.Key)
	}
	return keys
}

// checkLayout fails the test unless every object of bucket is a key of
// the repository layout and every pack, index object and manifest hashes
// to its name. It returns the number of objects by folder.
func checkLayout(t *testing.T, srv *miniotest.Server, bucket string) map[string]int {
	t.Helper()
	ctx := t.Context()
	client := srv.Client(t)
	counts := map[string]int{}
	for obj := range client.ListObjectsIter(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		var id string
		if m := packKey.FindStringSubmatch(obj.Key); m != nil {
			if m[1] != m[2][:2] {
				t.Errorf("pack %s lies under packs/%s/", m[2], m[1])
			}
			id = m[2]
		} else if m := hashedKey.FindStringSubmatch(obj.Key); m != nil {
			id = m[1]
		} else if obj.Key != configKey {
			t.Errorf("object %q (%d bytes) is not one of %s", obj.Key, obj.Size, keyExample)
			continue
		}
		folder, _, _ := strings.Cut(strings.TrimPrefix(obj.Key, "repo/"), "/")
		counts[folder]++
		if id == "" {
			continue
		}
		o, err := client.GetObject(ctx, bucket, obj.Key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		n, err := io.Copy(h, o)
		_ = o.Close() // read-only
		if err != nil {
			t.Fatalf("read %s: %v", obj.Key, err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != id || n != obj.Size {
			t.Errorf("%s: %d bytes (listed %d) with SHA-256 %s", obj.Key, n, obj.Size, got)
		}
	}
	return counts
}

// TestS3EndToEnd runs a repository's life in a real MinIO bucket that the
// first commands find missing: init creates it, snapshots, restores,
// export to a WIM wimlib verifies and applies, import of a WIM wimlib
// wrote, check, and the objects the bucket ends up with.
func TestS3EndToEnd(t *testing.T) {
	bin := buildBinary(t)
	srv := miniotest.Start(t)
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	addBigFiles(t, src, 100, 3, 2<<20+12345)
	writeFile(t, src, "big/text.txt", []byte(strings.Repeat("a compressible line of text\n", 80000)))
	bucket := freshBucket()
	r := newS3Env(t, bin, srv, srv.URL, bucket)

	// (a) No bucket yet: every repository command says so.
	res := r.run(t, exitNoRepo, "snapshot", src)
	if !strings.Contains(res.stderr, "bucket does not exist") || !strings.Contains(res.stderr, "wimsnap init") {
		t.Errorf("snapshot before init: stderr %q; want the missing bucket named and init suggested", res.stderr)
	}
	if bucketExists(t, srv, bucket) {
		t.Fatal("snapshot created the bucket")
	}

	// (b) init creates the bucket and the repository.
	var ini struct {
		Repository string `json:"repository"`
		ID         string `json:"id"`
		Codec      string `json:"codec"`
		ChunkSize  int    `json:"chunk_size"`
	}
	r.runJSON(t, exitOK, &ini, "init")
	if ini.Repository != r.repo || len(ini.ID) != 64 || ini.Codec != "xpress" || ini.ChunkSize != 32768 {
		t.Errorf("init = %+v", ini)
	}
	if !bucketExists(t, srv, bucket) {
		t.Fatal("init did not create the bucket")
	}

	// (c) A first snapshot uploads; a restore gives the tree back.
	s1 := r.snapshot(t, src, "--host=e2e")
	if s1.Requests == nil || s1.Requests.Put == 0 || s1.NewChunks == 0 || s1.Packs == 0 || s1.Repository != r.repo {
		t.Fatalf("first snapshot: requests %+v, new_chunks %d, packs %d, repository %q",
			s1.Requests, s1.NewChunks, s1.Packs, s1.Repository)
	}
	t.Logf("first snapshot: %d files, %d new chunks in %d packs; requests %+v (%d)",
		s1.Files, s1.NewChunks, s1.Packs, *s1.Requests, s1.Requests.Total())

	// (d) An unchanged snapshot reads no file, stores nothing but its
	// manifest and sends few requests, the parent's metadata coming from
	// the local cache: GET config, LIST index/ and snapshots/, the region
	// look-up (other), PUT manifest, and the shared lock (PUT, HEAD of
	// locks/exclusive, HEAD and DELETE to remove it): 9. Fetching the
	// parent's metadata from its pack took 8 more before the cache.
	s2 := r.snapshot(t, src, "--host=e2e")
	if s2.FilesRead != 0 || s2.Parent != s1.Snapshot || s2.Reused == 0 {
		t.Errorf("unchanged snapshot: files_read %d, files_unchanged %d, parent %q (want %s)",
			s2.FilesRead, s2.Reused, s2.Parent, s1.Snapshot)
	}
	if s2.NewChunks != 0 {
		// MakeTree's atimes are years old, so a plain read of a directory
		// or symlink updates them even under relatime.
		t.Errorf("BUG: an unchanged snapshot stored %d new chunks (%d packs), a new metadata stream: the first "+
			"snapshot changed the atimes it records, listing directories without O_NOATIME (snapshot/sys.go "+
			"openDir) and reading symlinks after their lstat (snapshot/capture_file.go symlink)",
			s2.NewChunks, s2.Packs)
	}
	// 9, and since stop 30 the commit's list of index objects: did a prune
	// replace them during the run? (snapshot/repo_redeclare.go); since stop
	// 33 the commit's look at its lock: is it still there? (Lock.Confirm);
	// since stop 50 a listing of the locks: does a prune run, so that its
	// packs need salt? (snapshot/repo_pack_fresh.go); since stop 53 that
	// list again once the manifest is stored: did a prune replace them
	// between the first and the manifest?
	const maxUnchangedRequests = 13
	switch {
	case s2.Requests == nil:
		t.Error("unchanged snapshot: no request counts")
	case s2.Requests.Total() > maxUnchangedRequests:
		t.Errorf("unchanged snapshot sent %d requests (%+v), want at most %d",
			s2.Requests.Total(), *s2.Requests, maxUnchangedRequests)
	default:
		t.Logf("unchanged snapshot: requests %+v (%d), new_chunks %d", *s2.Requests, s2.Requests.Total(), s2.NewChunks)
	}

	restored := filepath.Join(tmp, "restored")
	r.run(t, exitOK, "restore", s1.Snapshot, "--target", restored)
	compareTrees(t, src, restored)

	t.Run("export", func(t *testing.T) {
		wimtest.Require(t, "wimlib-imagex")
		out := filepath.Join(t.TempDir(), "out.wim")
		var sum exportSummary
		r.runJSON(t, exitOK, &sum, "export", s1.ShortID, s2.Snapshot, out)
		// The packs, hashed as they are fetched, vouch for every stream:
		// none is expanded.
		if sum.Images != 2 || !slices.Equal(sum.Snapshots, []string{s1.Snapshot, s2.Snapshot}) || sum.CopiedChunks == 0 ||
			sum.Expanded != 0 {
			t.Errorf("export summary = %+v", sum)
		}
		if sum.Requests != nil {
			t.Logf("export: requests %+v (%d)", *sum.Requests, sum.Requests.Total())
		}
		wimtest.Wimlib(t, "verify", out)
		applied := filepath.Join(t.TempDir(), "applied")
		wimtest.Wimlib(t, "apply", out, "2", applied, "--unix-data")
		compareTrees(t, src, applied)
	})

	var imported string
	t.Run("import", func(t *testing.T) {
		wimtest.Require(t, "wimlib-imagex")
		dir := t.TempDir()
		tree := filepath.Join(dir, "tree")
		wimtest.MakeTree(t, tree, wimtest.TreeOptions{})
		writeFile(t, tree, "only-in-the-wim.bin", randomBytes(200, 300000))
		w := filepath.Join(dir, "by-wimlib.wim")
		wimtest.Wimlib(t, "capture", tree, w, "from-wimlib", "--unix-data")
		var sum struct {
			Snapshots []importedJSON `json:"snapshots"`
		}
		r.runJSON(t, exitOK, &sum, "import", w, "--host=wimlib")
		if len(sum.Snapshots) != 1 {
			t.Fatalf("import: %+v", sum)
		}
		im := sum.Snapshots[0]
		// The tree is the first snapshot's but for one file: only that
		// file and the image's metadata are new.
		if im.Name != "from-wimlib" || im.NewRaw < 300000 || im.NewRaw > 300000+1<<20 {
			t.Errorf("import: %+v; want about 300000 new bytes", im)
		}
		imported = im.Snapshot
		target := filepath.Join(dir, "restored")
		r.run(t, exitOK, "restore", im.Snapshot, "--target", target)
		compareTrees(t, tree, target)
	})

	t.Run("check", func(t *testing.T) {
		c := r.check(t, exitOK, "--read-data")
		requireOK(t, c)
		want := 2
		if imported != "" {
			want = 3
		}
		if c.Snapshots != want || c.Packs == 0 || c.PacksRead != c.Packs || c.Unreferenced != 0 {
			t.Errorf("check --read-data = %+v, want %d snapshots and every pack read", c, want)
		}
	})

	t.Run("layout", func(t *testing.T) {
		counts := checkLayout(t, srv, bucket)
		snaps := len(r.snapshotIDs(t))
		if counts["config"] != 1 || counts["packs"] == 0 || counts["index"] == 0 || counts["snapshots"] != snaps {
			t.Errorf("objects by folder: %v; want a config, packs, index objects and %d manifests", counts, snaps)
		}
		t.Logf("objects by folder: %v", counts)
	})
}

// TestS3Faults runs commands through a proxy that breaks requests: the
// transient faults are retried away, lasting ones fail in bounded time
// with one clear message and leave the repository whole, corrupt
// downloads are never restored as files, and bad credentials, a missing
// bucket, a closed port and an untrusted certificate get their exit
// codes.
func TestS3Faults(t *testing.T) {
	bin := buildBinary(t)
	srv := miniotest.Start(t)
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	addBigFiles(t, src, 1000, 10, 4<<20) // 40 MiB of random data: 3 packs
	bucket := srv.NewBucket(t)
	direct := newS3Env(t, bin, srv, srv.URL, bucket)
	direct.run(t, exitOK, "init")
	// through returns the repository reached through p, with a short stall
	// timeout, on the same machine as direct.
	through := func(p *miniotest.Proxy) *repoEnv {
		return direct.at(p.URL+"/"+bucket+"/repo", envS3Timeout+"=2s")
	}

	var s1 snapshotSummary
	t.Run("transient faults", func(t *testing.T) {
		p := miniotest.NewProxy(t, srv.Addr)
		rules := []miniotest.Rule{
			{Method: "PUT", PathContains: "/packs/", Times: 1, Fault: miniotest.ResetMidBody()},
			{Method: "PUT", Times: 1, Fault: miniotest.Status(503)},
			{Method: "PUT", PathContains: "/index/", Times: 1, Fault: miniotest.Status(500)},
			// On a pack, whose body fills the socket buffers: the upload
			// stalls, and the late forward finds the client gone.
			{Method: "PUT", PathContains: "/packs/", Times: 1, Fault: miniotest.Stall(6 * time.Second)},
			{Method: "GET", Times: 1, Fault: miniotest.ResetMidResponse()},
			{Method: "GET", Times: 1, Fault: miniotest.Status(503)},
		}
		for _, rule := range rules {
			p.Add(rule)
		}
		r := through(p)
		start := time.Now()
		res := r.runJSON(t, exitOK, &s1, "snapshot", src, "--host=faults")
		retries, _ := retryLines(res.stderr)
		t.Logf("snapshot through faults: %v, %d packs, proxy saw %v, %d faults injected; retries:\n%s",
			time.Since(start).Round(time.Millisecond), s1.Packs, p.Counts(), p.Injected(), strings.Join(retries, "\n"))
		if s1.Packs < 2 {
			t.Errorf("snapshot stored %d packs, want several", s1.Packs)
		}
		if p.Injected() != len(rules) {
			t.Errorf("%d faults injected, want %d (every rule spent)", p.Injected(), len(rules))
		}
		if len(retries) == 0 {
			t.Errorf("no retry on stderr:\n%s", res.stderr)
		}
		requireOK(t, direct.check(t, exitOK, "--read-data"))
		target := filepath.Join(t.TempDir(), "target")
		direct.run(t, exitOK, "restore", s1.Snapshot, "--target", target)
		compareTrees(t, src, target)

		// A restore through broken and reset pack downloads resumes them.
		p.Add(miniotest.Rule{Method: "GET", PathContains: "/packs/", Times: 1, Fault: miniotest.ResetMidResponse()})
		p.Add(miniotest.Rule{Method: "GET", PathContains: "/packs/", Times: 1, Fault: miniotest.Status(503)})
		target = filepath.Join(t.TempDir(), "target")
		res = r.run(t, exitOK, "restore", s1.Snapshot, "--target", target)
		compareTrees(t, src, target)
		if p.Injected() != len(rules)+2 {
			t.Errorf("restore: %d faults injected, want 2", p.Injected()-len(rules))
		}
		if retries, _ := retryLines(res.stderr); len(retries) == 0 {
			t.Errorf("restore: no retry on stderr:\n%s", res.stderr)
		}
	})
	if s1.Snapshot == "" {
		t.Fatal("no snapshot to go on with")
	}

	t.Run("lasting 503", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "other")
		writeFile(t, other, "new.bin", randomBytes(2000, 2<<20))
		tests := []struct {
			name, path string // the PUTs that fail: those whose path has path
		}{
			{name: "every PUT"},
			{name: "pack PUTs", path: "/packs/"}, // after the lock is taken
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := direct.snapshotIDs(t)
				p := miniotest.NewProxy(t, srv.Addr)
				p.Add(miniotest.Rule{Method: "PUT", PathContains: tt.path, Fault: miniotest.Status(503)})
				res, took := timedRun(t, through(p), exitRemote, 60*time.Second, "snapshot", other, "--host=faults")
				retries, _ := retryLines(res.stderr)
				t.Logf("failed after %v with %d retries; proxy saw %v", took.Round(time.Millisecond), len(retries), p.Counts())
				requireOneError(t, "snapshot against lasting 503s", res, regexp.MustCompile(`SlowDown|503|unavailable`), srv.SecretKey)
				if ids := direct.snapshotIDs(t); !slices.Equal(ids, before) {
					t.Errorf("snapshots after the failure: %q, want %q", ids, before)
				}
				requireOK(t, direct.check(t, exitOK))
				if locks := listKeys(t, srv, bucket, "repo/locks/"); len(locks) != 0 {
					t.Errorf("the failed snapshot left locks behind: %q", locks)
				}
			})
		}
	})

	t.Run("store gone during restore", func(t *testing.T) {
		// The metadata is in the local cache: only the files' packs fail.
		p := miniotest.NewProxy(t, srv.Addr)
		p.Add(miniotest.Rule{PathContains: "/packs/", Fault: miniotest.Status(503)})
		target := filepath.Join(t.TempDir(), "target")
		res, took := timedRun(t, through(p), exitRemote, 30*time.Second, "restore", s1.Snapshot, "--target", target)
		var warned int
		for line := range strings.Lines(res.stderr) {
			if strings.HasPrefix(line, "wimsnap: warning: "+target) {
				warned++
			}
		}
		t.Logf("restore with the packs unavailable: %v, %d files warned about, proxy saw %v, last line %q",
			took.Round(time.Millisecond), warned, p.Counts(), lastLine(res.stderr))
		// Only the files in flight when the store was found gone: the
		// others do not each wait out the retries.
		if workers := runtime.GOMAXPROCS(0); warned > workers {
			t.Errorf("%d files warned about, want at most one per worker (%d)", warned, workers)
		}
		if !strings.Contains(lastLine(res.stderr), "run it again") {
			t.Errorf("last line %q does not say to run the restore again", lastLine(res.stderr))
		}
		requireNoWrongFile(t, src, target)
		direct.run(t, exitOK, "restore", s1.Snapshot, "--target", target)
		compareTrees(t, src, target)
	})

	t.Run("store gone during check", func(t *testing.T) {
		// check --read-data reads the packs in id order on two readers:
		// the first pack's download hangs while the others fail for
		// good, so that the reader of the first is cancelled. The
		// failure is the store's (exit 12), not an interrupt (130).
		packs := listKeys(t, srv, bucket, "repo/packs/")
		if len(packs) < 2 {
			t.Fatalf("%d packs, want several", len(packs))
		}
		p := miniotest.NewProxy(t, srv.Addr)
		p.Add(miniotest.Rule{Method: "GET", PathContains: slices.Min(packs), Fault: miniotest.Stall(25 * time.Second)})
		p.Add(miniotest.Rule{PathContains: "/packs/", Fault: miniotest.Status(503)})
		r := direct.at(p.URL + "/" + bucket + "/repo") // the default timeouts: the hang outlasts the failures
		res, took := timedRun(t, r, exitRemote, 40*time.Second, "check", "--read-data")
		t.Logf("check --read-data with the packs unavailable: %v, proxy saw %v, last line %q",
			took.Round(time.Millisecond), p.Counts(), lastLine(res.stderr))
		if !strings.Contains(lastLine(res.stderr), "unavailable") {
			t.Errorf("last line %q does not name the store unavailable", lastLine(res.stderr))
		}
	})

	t.Run("corrupt downloads", func(t *testing.T) {
		p := miniotest.NewProxy(t, srv.Addr)
		p.Add(miniotest.Rule{Method: "GET", PathContains: "/packs/", Fault: miniotest.FlipByte()})
		r := through(p)
		target := filepath.Join(t.TempDir(), "target")
		res := runBin(t, r.bin, r.env, "restore", s1.Snapshot, "--target", target)
		if res.code == exitOK {
			t.Errorf("restore through flipped bytes succeeded; stdout %q", res.stdout)
		}
		if !regexp.MustCompile(`(?i)checksum|corrupt|damaged|do not match|mismatch`).MatchString(res.stderr) {
			t.Errorf("restore through flipped bytes: exit %d, stderr %q; want a checksum problem named", res.code, res.stderr)
		}
		t.Logf("restore through flipped bytes: exit %d, %d GETs flipped, last line %q", res.code, p.Injected(), lastLine(res.stderr))
		requireNoWrongFile(t, src, target)

		var c checkSummary
		res = runBin(t, r.bin, r.env, "check", "--read-data", "--json")
		if err := json.Unmarshal([]byte(res.stdout), &c); res.code == exitOK || err != nil || c.OK || len(c.Problems) == 0 {
			t.Errorf("check --read-data through flipped bytes: exit %d, %+v (%v); stderr %q", res.code, c, err, res.stderr)
		}
		requireOK(t, direct.check(t, exitOK, "--read-data"))

		// One download flipped in flight: the repository is whole, and the
		// stream that fails its checksum is read again.
		once := miniotest.NewProxy(t, srv.Addr)
		once.Add(miniotest.Rule{Method: "GET", PathContains: "/packs/", Times: 1, Fault: miniotest.FlipByte()})
		onceTarget := filepath.Join(t.TempDir(), "once")
		res = runBin(t, bin, through(once).env, "restore", s1.Snapshot, "--target", onceTarget)
		if res.code != exitOK {
			t.Errorf("restore with one flipped download: exit %d, last line %q", res.code, lastLine(res.stderr))
		} else {
			compareTrees(t, src, onceTarget)
		}

		healed := through(miniotest.NewProxy(t, srv.Addr))
		healed.run(t, exitOK, "restore", s1.Snapshot, "--target", target)
		compareTrees(t, src, target)

		// A rollback through flipped bytes either gets every stream it
		// needs whole (one flipped byte per download, and a pack window
		// serves many files, so the edited files' chunks may be clean) and
		// gives back the snapshot, or it fails and leaves the files it
		// would have replaced as they were.
		edited := map[string][]byte{"big/00.bin": randomBytes(3000, 100000), "small.txt": []byte("edited\n")}
		for rel, data := range edited {
			writeFile(t, target, rel, data)
		}
		res = runBin(t, r.bin, r.env, "restore", s1.Snapshot, "--target", target)
		if res.code == exitOK {
			compareTrees(t, src, target)
			return
		}
		for rel, data := range edited {
			got, err := os.ReadFile(filepath.Join(target, rel))
			if want, _ := os.ReadFile(filepath.Join(src, rel)); err != nil || string(got) != string(data) && string(got) != string(want) {
				t.Errorf("failed rollback left %s with %d bytes (%v), neither the edit (%d) nor the snapshot's (%d)",
					rel, len(got), err, len(data), len(want))
			}
		}
		wimtest.CompareTrees(t, src, target, wimtest.CompareOptions{IgnorePaths: slices.Collect(maps.Keys(edited))})
	})

	t.Run("refused", func(t *testing.T) {
		small := filepath.Join(t.TempDir(), "small")
		makeTree(t, small)

		wrong := "wrong-" + rand.Text()
		res, _ := timedRun(t, direct.with(envAWSSecret+"="+wrong), exitRemote, 30*time.Second, "snapshot", small)
		requireOneError(t, "wrong secret", res, regexp.MustCompile(`(?i)access denied`), wrong, srv.SecretKey)
		if retries, _ := retryLines(res.stderr); len(retries) != 0 {
			t.Errorf("wrong secret retried: %q", retries)
		}

		res = direct.at(srv.URL+"/"+freshBucket()+"/repo").run(t, exitNoRepo, "snapshots")
		requireOneError(t, "missing bucket", res, regexp.MustCompile(`bucket does not exist`), srv.SecretKey)

		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := ln.Addr().String()
		if err := ln.Close(); err != nil {
			t.Fatal(err)
		}
		res, took := timedRun(t, direct.at("http://"+closed+"/"+bucket+"/repo"), exitRemote, 30*time.Second, "snapshots")
		retries, _ := retryLines(res.stderr)
		t.Logf("closed port: exit %d after %v, %d retries", res.code, took.Round(time.Millisecond), len(retries))
		requireOneError(t, "closed port", res, regexp.MustCompile(`refused`), srv.SecretKey)
		if len(retries) > 5 {
			t.Errorf("closed port: %d retries, want at most 5:\n%s", len(retries), res.stderr)
		}
	})

	t.Run("TLS", func(t *testing.T) {
		tsrv := miniotest.StartTLS(t)
		tbucket := tsrv.NewBucket(t)
		r := newS3Env(t, bin, tsrv, tsrv.URL, tbucket)
		res, _ := timedRun(t, r, exitRemote, 30*time.Second, "init")
		requireOneError(t, "TLS without --cacert", res, regexp.MustCompile(`certificate`), tsrv.SecretKey)
		if retries, _ := retryLines(res.stderr); len(retries) != 0 {
			t.Errorf("an untrusted certificate was retried: %q", retries)
		}
		r.run(t, exitOK, "init", "--cacert="+tsrv.CAFile)
		small := filepath.Join(t.TempDir(), "small")
		makeTree(t, small)
		r.run(t, exitOK, "snapshot", small, "--cacert", tsrv.CAFile)
		target := filepath.Join(t.TempDir(), "target")
		r.with(envCACert+"="+tsrv.CAFile).run(t, exitOK, "restore", "latest", "--target", target)
		compareTrees(t, small, target)
	})
}

// requireNoWrongFile fails the test if a failed restore of src into
// target left a regular file whose contents are neither src's nor empty,
// or a non-empty file src does not have.
func requireNoWrongFile(t *testing.T, src, target string) {
	t.Helper()
	var empty, same int
	err := filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(target, p)
		if err != nil {
			return err
		}
		got, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		want, werr := os.ReadFile(filepath.Join(src, rel))
		switch {
		case len(got) == 0:
			empty++
		case werr == nil && string(got) == string(want):
			same++
		case werr != nil:
			t.Errorf("failed restore left %s (%d bytes), which the source lacks", rel, len(got))
		default:
			t.Errorf("failed restore left %s with wrong contents (%d bytes, source %d)", rel, len(got), len(want))
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	t.Logf("failed restore left %d empty regular files and %d whole ones", empty, same)
}
