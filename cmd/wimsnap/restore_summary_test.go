//go:build unix

package main

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRestoreSummaryWords: the summary of restore says how many entries it
// wrote and how many it left in place, so that a rollback over a tree that
// already matches does not read as if it had restored every file, and a
// dry run says what it would do.
func TestRestoreSummaryWords(t *testing.T) {
	env := testRepoEnv(t)
	target := filepath.Join(t.TempDir(), "t")
	restore := func(t *testing.T, args ...string) string {
		t.Helper()
		code, out, errb := runApp(t, env, append([]string{"restore", "latest", "--target", target}, args...)...)
		if code != exitOK {
			t.Fatalf("restore %q: exit %d: %s", args, code, errb)
		}
		return regexp.MustCompile(`, [0-9.]+s\n$`).ReplaceAllString(strings.TrimPrefix(out, "Restored "), "")
	}
	const head = "to T: 2 dirs, 3 files, 0 symlinks, 0 special; "
	tests := []struct {
		name   string
		change func(t *testing.T)
		args   []string
		want   string
	}{
		{"into an empty directory", nil, nil, "3 written (150.0 KiB), 0 left in place, 0 deleted"},
		{"over the same tree", nil, nil, "0 written (0 B), 3 left in place, 0 deleted"},
		{"dry run of a rollback", func(t *testing.T) {
			t.Helper()
			must(t, os.WriteFile(filepath.Join(target, "a.bin"), []byte("x"), 0o644))
			must(t, os.Chtimes(filepath.Join(target, "sub", "b.txt"), time.Now(), time.Now()))
			must(t, os.Symlink("x", filepath.Join(target, "extra")))
		}, []string{"--delete", "--dry-run"},
			"1 to write (100.0 KiB), 2 to leave in place (1 with metadata to fix), 1 to delete"},
		{"rollback", nil, []string{"--delete"}, "1 written (100.0 KiB), 2 left in place (1 with metadata fixed), 1 deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.change != nil {
				tt.change(t)
			}
			got := restore(t, tt.args...)
			got = strings.Replace(got[strings.Index(got, " to ")+1:], target, "T", 1)
			if want := head + tt.want; got != want {
				t.Errorf("summary\n%s\nwant\n%s", got, want)
			}
		})
	}
}

// TestRestoreHelpKeys: the keys that restore's help lists for --json are
// those of the document.
func TestRestoreHelpKeys(t *testing.T) {
	doc := restoreHelp[strings.Index(restoreHelp, "one document"):]
	doc = doc[strings.Index(doc, "{"):]
	listed := regexp.MustCompile(`"([a-z_]+)"`).FindAllStringSubmatch(doc[:strings.Index(doc, "}")], -1)
	var help, keys []string
	for _, m := range listed {
		help = append(help, m[1])
	}
	rt := reflect.TypeFor[restoreSummary]()
	for i := range rt.NumField() {
		keys = append(keys, strings.Split(rt.Field(i).Tag.Get("json"), ",")[0])
	}
	slices.Sort(help)
	slices.Sort(keys)
	if !slices.Equal(help, keys) {
		t.Errorf("restore help lists %q; the document has %q", help, keys)
	}
}
