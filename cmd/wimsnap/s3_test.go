package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/remote/miniotest"
)

func TestS3Credentials(t *testing.T) {
	home := t.TempDir()
	credFile := filepath.Join(home, ".aws", "credentials")
	if err := os.MkdirAll(filepath.Dir(credFile), 0o700); err != nil {
		t.Fatal(err)
	}
	ini := "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = filesecret\n\n" +
		"[lab]\naws_access_key_id = LABKEY\naws_secret_access_key = labsecret\naws_session_token = labtoken\n"
	if err := os.WriteFile(credFile, []byte(ini), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(home, "other")
	if err := os.WriteFile(other, []byte("[default]\naws_access_key_id = OTHERKEY\naws_secret_access_key = othersecret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name               string
		env                map[string]string
		key, secret, token string
		wantErr            string
	}{
		{"aws variables first", map[string]string{"HOME": home, envAWSKey: "ENVKEY", envAWSSecret: "envsecret", envAWSToken: "envtoken",
			envCaptureAccount: "OSDKEY", envCapturePassword: "osdsecret"}, "ENVKEY", "envsecret", "envtoken", ""},
		{"configmgr account", map[string]string{"HOME": home, envCaptureAccount: "OSDKEY", envCapturePassword: "osdsecret"},
			"OSDKEY", "osdsecret", "", ""},
		{"default profile", map[string]string{"HOME": home}, "FILEKEY", "filesecret", "", ""},
		{"named profile", map[string]string{"HOME": home, envAWSProfile: "lab"}, "LABKEY", "labsecret", "labtoken", ""},
		{"other file", map[string]string{"HOME": home, envAWSCredFile: other}, "OTHERKEY", "othersecret", "", ""},
		{"unknown profile", map[string]string{"HOME": home, envAWSProfile: "nope"}, "", "", "", `profile "nope"`},
		{"no file", map[string]string{"HOME": t.TempDir()}, "", "", "", "no such file"},
		{"key without secret", map[string]string{"HOME": home, envAWSKey: "ENVKEY", envCaptureAccount: "OSDKEY", envCapturePassword: "osdsecret"},
			"", "", "", "$AWS_ACCESS_KEY_ID is set but $AWS_SECRET_ACCESS_KEY is not"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _, _ := testApp(tt.env)
			var cfg remote.S3Config
			err := a.s3Credentials(&cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, remote.ErrDenied) {
					t.Fatalf("error %v, want one containing %q and wrapping ErrDenied", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secret") && !strings.Contains(err.Error(), "SECRET_ACCESS_KEY") {
					t.Errorf("error mentions a secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.AccessKey != tt.key || string(cfg.SecretKey) != tt.secret || string(cfg.SessionToken) != tt.token {
				t.Errorf("got %s/%s/%s, want %s/%s/%s", cfg.AccessKey, string(cfg.SecretKey), string(cfg.SessionToken),
					tt.key, tt.secret, tt.token)
			}
			if s := fmt.Sprintf("%v %+v", cfg, cfg); strings.Contains(s, tt.secret) {
				t.Errorf("printing the config shows the secret: %s", s)
			}
		})
	}
}

// TestS3Flags: bad limits and URLs are usage errors, before any request.
func TestS3Flags(t *testing.T) {
	env := map[string]string{envAWSKey: "k", envAWSSecret: "s", envRepository: "s3:http://127.0.0.1:1/bucket"}
	for _, args := range [][]string{
		{"snapshots", "--connections=0"},
		{"snapshots", "--limit-upload=-1"},
		{"snapshots", "--repo=s3:http://127.0.0.1:1/Bad_Bucket"},
		{"snapshots", "--repo=s3:http://user:pw@127.0.0.1:1/bucket"},
	} {
		a, _, errb := testApp(env)
		if code := a.run(t.Context(), args); code != exitUsage {
			t.Errorf("wimsnap %v: exit %d, want %d (%s)", args, code, exitUsage, errb)
		}
		if strings.Contains(errb.String(), "pw@") {
			t.Errorf("wimsnap %v: the error repeats the URL's password: %s", args, errb)
		}
	}
	// The same on a local repository (missing or not), naming the flag.
	local := filepath.Join(t.TempDir(), "none")
	for flag, want := range map[string]string{"--connections=-3": "--connections=-3: want 1 or more",
		"--limit-download=-5": "--limit-download=-5: want 0"} {
		a, _, errb := testApp(nil)
		if code := a.run(t.Context(), []string{"snapshots", "--repo=" + local, flag}); code != exitUsage || !strings.Contains(errb.String(), want) {
			t.Errorf("%s on a local repository: exit %d, %s", flag, code, errb)
		}
	}
	a, _, errb := testApp(map[string]string{envAWSKey: "k", envAWSSecret: "s", envS3Timeout: "soon"})
	if code := a.run(t.Context(), []string{"snapshots", "--repo=s3:http://127.0.0.1:1/bucket"}); code != exitUsage {
		t.Errorf("a bad %s: exit %d (%s)", envS3Timeout, code, errb)
	}
}

// TestS3BlackHole runs a command against a server that accepts
// connections and never answers: with $WIMSNAP_S3_TIMEOUT at 300ms it
// exits 12 after two attempts of 300ms each (not five), and the help
// states the finite default.
func TestS3BlackHole(t *testing.T) {
	const timeout = 300 * time.Millisecond
	hole := miniotest.NewBlackHole(t)
	env := map[string]string{envAWSKey: "k", envAWSSecret: "s", envS3Timeout: timeout.String(),
		envCacheDir: t.TempDir(), envRepository: "s3:http://" + hole.Addr + "/bucket"}
	start := time.Now()
	code, _, errb := runApp(t, env, "snapshots")
	took := time.Since(start)
	if code != exitRemote || !strings.Contains(errb, "did not answer in time") {
		t.Errorf("snapshots against a black hole: exit %d, want %d: %s", code, exitRemote, errb)
	}
	if took < 2*timeout || took > 2*timeout+3*time.Second {
		t.Errorf("snapshots against a black hole took %v, want about 2 x %v", took, timeout)
	}
	if n := hole.Accepted(); n != 2 {
		t.Errorf("%d connections, want 2 (a timed-out request is sent once more)", n)
	}
	def := remote.DefaultS3AnswerTimeout
	if def <= 0 || def > time.Minute || !strings.Contains(s3Help, "within "+def.String()) {
		t.Errorf("DefaultS3AnswerTimeout %v: want a finite bound of at most a minute, stated in the help:%s", def, s3Help)
	}
}

// TestS3CAFileNamed: a CA file that cannot be read is named with where it
// came from, $WIMSNAP_CACERT or --cacert: the variable may be one set in
// a profile or a unit, not in the shell the user looks at.
func TestS3CAFileNamed(t *testing.T) {
	env := map[string]string{"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", envCACert: filepath.Join(t.TempDir(), "none.pem"),
		envCacheDir: t.TempDir(), "HOME": t.TempDir()}
	code, _, errb := runApp(t, env, "snapshots", "--repo", "s3:https://127.0.0.1:1/bucket")
	if code == exitOK || !strings.Contains(errb, "$WIMSNAP_CACERT: remote: CA file: open ") {
		t.Errorf("exit %d: %s", code, errb)
	}
	notPEM := filepath.Join(t.TempDir(), "x.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errb = runApp(t, env, "snapshots", "--repo", "s3:https://127.0.0.1:1/bucket", "--cacert", notPEM)
	if code == exitOK || !strings.Contains(errb, "--cacert: remote: CA file "+notPEM+": no PEM certificate in it") {
		t.Errorf("exit %d: %s", code, errb)
	}
}
