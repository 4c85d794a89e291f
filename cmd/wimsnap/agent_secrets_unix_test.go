//go:build unix

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckConfigExposedSecrets: an env-file of credentials other users
// may read is named in a warning by --check-config (and in --json), which
// said OK alone; one of mode 0600 is not.
func TestCheckConfigExposedSecrets(t *testing.T) {
	dir := t.TempDir()
	env := filepath.Join(dir, "s3.env")
	must(t, os.WriteFile(env, []byte("AWS_ACCESS_KEY_ID=k\nAWS_SECRET_ACCESS_KEY=s\n"), 0o644))
	must(t, os.Chmod(env, 0o644))
	cfg := filepath.Join(dir, "agent.toml")
	must(t, os.WriteFile(cfg, []byte("[credentials]\nenv-file = \"s3.env\"\n"+minimalJob), 0o600))
	out := runAppOK(t, nil, "agent", "--check-config", "--config="+cfg)
	if !strings.Contains(out, "warning: env-file "+env+" holds credentials and has mode 0644") {
		t.Errorf("--check-config with a 0644 env-file:\n%s", out)
	}
	var doc struct{ Warnings []string }
	must(t, json.Unmarshal([]byte(runAppOK(t, nil, "agent", "--check-config", "--json", "--config="+cfg)), &doc))
	if len(doc.Warnings) != 1 || !strings.HasPrefix(doc.Warnings[0], "env-file ") {
		t.Errorf("--check-config --json with a 0644 env-file: warnings %q", doc.Warnings)
	}
	must(t, os.Chmod(env, 0o600))
	if out := runAppOK(t, nil, "agent", "--check-config", "--config="+cfg); strings.Contains(out, "warning") {
		t.Errorf("--check-config with a 0600 env-file:\n%s", out)
	}
}
