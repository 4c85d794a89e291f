//go:build unix

package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDamagedIndexWarned: restore and export that find the local index
// damaged (a page lost a stream's key, the file still opening; or a file
// that does not open) rebuild it and say so once, on stderr, and restore
// in its --json warnings too; they did it silently, and only check
// reported it.
func TestDamagedIndexWarned(t *testing.T) {
	for _, cmd := range []string{"restore", "restore --json", "export", "export unreadable"} {
		t.Run(cmd, func(t *testing.T) {
			tmp, _, data, env := oneFileRepo(t)
			cache := env["WIMSNAP_CACHE_DIR"]
			want := "rebuilt it from the repository"
			if cmd == "export unreadable" {
				want = "unusable, rebuilding it"
				garbleIndexFile(t, cache)
			} else {
				key := sha1.Sum(data)
				damageIndexFile(t, cache, key[:])
			}
			args := []string{"restore", "latest", "--target", filepath.Join(tmp, "out")}
			switch cmd {
			case "restore --json":
				args = append(args, "--json")
			case "export", "export unreadable":
				args = []string{"export", "latest", filepath.Join(tmp, "x.wim")}
			}
			code, out, errb := runApp(t, env, args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s%s", code, out, errb)
			}
			if n := strings.Count(errb, want); cmd != "restore --json" && n != 1 {
				t.Errorf("stderr says %d times that the index was rebuilt, want once: %s", n, errb)
			}
			if cmd != "restore --json" {
				return
			}
			var doc restoreSummary
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatal(err)
			}
			if len(doc.Warnings) != 1 || doc.Warnings[0].Path != "repository" || !strings.Contains(doc.Warnings[0].Error, want) {
				t.Errorf("warnings %+v, want one of the repository saying %q", doc.Warnings, want)
			}
		})
	}
}

// oneFileRepo makes a repository in a temporary directory tmp with one
// snapshot of src, which holds the file f of data, and returns them with
// the environment that names the repository, its local index and HOME
// (tmp, so that no default location outside it is used).
func oneFileRepo(t *testing.T) (tmp, src string, data []byte, env map[string]string) {
	t.Helper()
	tmp = t.TempDir()
	data = bytes.Repeat([]byte("data"), 20000)
	src = filepath.Join(tmp, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "f"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	env = map[string]string{envCacheDir: filepath.Join(tmp, "cache"), envRepository: filepath.Join(tmp, "repo"), "HOME": tmp}
	runAppOK(t, env, "init")
	runAppOK(t, env, "snapshot", src)
	return tmp, src, data, env
}

// garbleIndexFile overwrites the one local index file in cache with bytes
// that are no bbolt file.
func garbleIndexFile(t *testing.T, cache string) {
	t.Helper()
	if err := os.WriteFile(indexFile(t, cache), bytes.Repeat([]byte{0x5a}, 8192), 0o600); err != nil {
		t.Fatal(err)
	}
}

// indexFile returns the path of the one local index file in cache.
func indexFile(t *testing.T, cache string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(cache, "*.db"))
	if err != nil || len(files) != 1 {
		t.Fatalf("index files in %s: %v %v", cache, files, err)
	}
	return files[0]
}

// damageIndexFile flips a byte of each copy of key in the one local index
// file in cache, as a damaged disk page would: bbolt keeps no checksums,
// so the file still opens and the key is not found.
func damageIndexFile(t *testing.T, cache string, key []byte) {
	t.Helper()
	file := indexFile(t, cache)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i := bytes.Index(b, key); i >= 0; i = bytes.Index(b, key) {
		b[i+len(key)-1] ^= 0xff
		n++
	}
	if n == 0 {
		t.Fatalf("key %x is not in %s", key, file)
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
