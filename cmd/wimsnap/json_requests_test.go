//go:build unix

package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/wimsnap/wimsnap/remote/miniotest"
)

// TestJSONRequestsDocumented: against an S3 repository, the documents of
// the commands that count their requests hold "requests", and --help
// names it with every other key they hold there.
func TestJSONRequestsDocumented(t *testing.T) {
	srv := miniotest.Start(t)
	dir := t.TempDir()
	env := map[string]string{
		envRepository: "s3:" + srv.URL + "/" + srv.NewBucket(t) + "/repo",
		envCacheDir:   filepath.Join(dir, "cache"),
		"HOME":        filepath.Join(dir, "home"),
		envAWSKey:     srv.AccessKey,
		envAWSSecret:  srv.SecretKey,
	}
	src := filepath.Join(dir, "src")
	writeFile(t, src, "a", []byte("hello"))
	runAppOK(t, env, "init")
	root := (&app{}).newRootCommand()
	for _, args := range [][]string{
		{"snapshot", src},
		{"restore", "latest", "--target=" + filepath.Join(dir, "r")},
		{"export", "latest", filepath.Join(dir, "e.wim")},
		{"check", "--read-data"},
		{"prune"},
		{"repair", "--dry-run"},
	} {
		t.Run(args[0], func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal([]byte(runAppOK(t, env, append(args, "--json")...)), &doc); err != nil {
				t.Fatal(err)
			}
			if _, ok := doc["requests"].(map[string]any); !ok {
				t.Errorf("no \"requests\" object in the document: %v", doc)
			}
			for _, k := range undocumentedKeys(doc, jsonHelp(root, args)) {
				t.Errorf("the document's %q is not named in --help", k)
			}
		})
	}
}
