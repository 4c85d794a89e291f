package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	miniocreds "github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/wimsnap/wimsnap/remote"
)

// Environment variables of S3 repositories. Credentials are looked up in
// this order: the AWS variables, the ConfigMgr task-sequence capture
// account, the shared credentials file.
const (
	envAWSKey         = "AWS_ACCESS_KEY_ID"
	envAWSSecret      = "AWS_SECRET_ACCESS_KEY" //nolint:gosec // a variable's name, not a secret
	envAWSToken       = "AWS_SESSION_TOKEN"
	envAWSCredFile    = "AWS_SHARED_CREDENTIALS_FILE"
	envAWSProfile     = "AWS_PROFILE"
	envAWSRegion      = "AWS_REGION"
	envAWSRegionOld   = "AWS_DEFAULT_REGION"
	envCACert         = "WIMSNAP_CACERT"
	envS3Timeout      = "WIMSNAP_S3_TIMEOUT"
	defaultS3Conns    = 8
	defaultS3Attempts = 5
)

const s3Help = `
An S3 repository is s3:http[s]://HOST[:PORT]/BUCKET[/PREFIX] (or
s3:HOST/BUCKET[/PREFIX] for HTTPS), with optional ?region=R and
?lookup=path|dns|auto. Credentials come from $AWS_ACCESS_KEY_ID and
$AWS_SECRET_ACCESS_KEY (and $AWS_SESSION_TOKEN), else from the ConfigMgr
variables $OSDCaptureAccount and $OSDCaptureAccountPassword, else from the
shared credentials file ($AWS_SHARED_CREDENTIALS_FILE, else
~/.aws/credentials; profile $AWS_PROFILE, else "default"). They are never
printed or stored in the repository. --cacert (or $WIMSNAP_CACERT) trusts
a private certificate authority. The server must accept a connection and
answer a request within 30s (a large upload: within 2m of sending it),
and a transfer fails when it makes no progress for 2m; however long a
transfer that keeps moving takes, it is never cut. $WIMSNAP_S3_TIMEOUT (a
Go duration such as 90s) sets all of these. Failed requests that may pass
(connection lost, timeouts, HTTP 5xx, throttling) are tried up to 5 times
in all, with growing, jittered pauses (7.5 to 15 s in all: a server that
restarts is waited out), but one that timed out only twice:
a server that accepts connections and never answers fails the command
(exit 12) after about a minute.`

// s3Flags are the S3 flags of every repository command.
type s3Flags struct {
	caCert      string
	connections int
	upKiB       int64
	downKiB     int64
}

// check reports a flag value out of range, naming it (exit 2).
func (f *s3Flags) check() error {
	switch {
	case f.connections <= 0:
		return usagef("--connections=%d: want 1 or more", f.connections)
	case f.upKiB < 0:
		return usagef("--limit-upload=%d: want 0 (no limit) or more", f.upKiB)
	case f.downKiB < 0:
		return usagef("--limit-download=%d: want 0 (no limit) or more", f.downKiB)
	}
	return nil
}

// openS3 opens the S3 repository at loc: the store, wrapped in bandwidth
// limits, a request limit and retries. It also returns the bare store for
// its request counts.
func (a *app) openS3(loc string, f *s3Flags) (remote.Store, *remote.S3, error) {
	cfg, err := remote.ParseS3URL(loc)
	if err != nil {
		return nil, nil, usagef("repository: %v", err)
	}
	if cfg.Region == "" {
		cfg.Region = a.firstEnv(envAWSRegion, envAWSRegionOld)
	}
	if err := a.s3Credentials(&cfg); err != nil {
		return nil, nil, err
	}
	cfg.CAFile = f.caCert
	caFrom := "--cacert"
	if cfg.CAFile == "" {
		cfg.CAFile, caFrom = a.firstEnv(envCACert), "$"+envCACert
	}
	if v := a.firstEnv(envS3Timeout); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, nil, usagef("$%s=%q: want a positive duration such as 90s", envS3Timeout, v)
		}
		cfg.Timeout, cfg.AnswerTimeout = d, d
	}
	s3, err := remote.NewS3(cfg)
	if errors.Is(err, remote.ErrCAFile) {
		return nil, nil, fmt.Errorf("%s: %w", caFrom, err) // the variable may be one the user did not set in this shell
	}
	if err != nil {
		return nil, nil, err
	}
	store := remote.NewBandwidth(s3, f.upKiB<<10, f.downKiB<<10)
	store = remote.NewLimit(store, f.connections)
	store = remote.NewRetry(store, remote.RetryOptions{Attempts: defaultS3Attempts, OnRetry: a.retryNote})
	return store, s3, nil
}

// retryNote tells the user that a request failed and is sent again.
func (a *app) retryNote(op, key string, attempt int, wait time.Duration, err error) {
	fmt.Fprintf(a.stderr, "wimsnap: %s %s failed (attempt %d), retrying in %s: %v\n",
		op, key, attempt, wait.Round(10*time.Millisecond), err)
}

// s3Credentials fills the keys of cfg from the environment or the shared
// credentials file. No credentials at all is an error that says where they
// were looked for.
func (a *app) s3Credentials(cfg *remote.S3Config) error {
	if key := a.firstEnv(envAWSKey); key != "" {
		secret := a.firstEnv(envAWSSecret)
		if secret == "" {
			// An empty secret only earns "access denied" from the server.
			return fmt.Errorf("no S3 credentials: $%s is set but $%s is not: %w", envAWSKey, envAWSSecret, remote.ErrDenied)
		}
		cfg.AccessKey = key
		cfg.SecretKey = remote.Secret(secret)
		cfg.SessionToken = remote.Secret(a.firstEnv(envAWSToken))
		return nil
	}
	if acc := readOSD(a.lookup).Account; strings.TrimSpace(acc.User) != "" {
		cfg.AccessKey, cfg.SecretKey = acc.User, remote.Secret(acc.Password)
		return nil
	}
	file := a.firstEnv(envAWSCredFile)
	if file == "" {
		home, err := a.userDir("", "", "~/.aws/credentials (or set "+envAWSCredFile+")")
		if err != nil {
			return err
		}
		file = filepath.Join(home, ".aws", "credentials")
	}
	profile := a.firstEnv(envAWSProfile)
	if profile == "" {
		profile = "default"
	}
	v, err := miniocreds.NewFileAWSCredentials(file, profile).GetWithContext(nil)
	if err != nil || v.AccessKeyID == "" {
		// The parser's message may quote a line of the file: a secret.
		why := "no such profile or no access key in it"
		if _, serr := os.Stat(file); serr != nil {
			why = "no such file"
		}
		return fmt.Errorf("no S3 credentials: set $%s and $%s, or $%s and $%s, or profile %q in %s (%s): %w",
			envAWSKey, envAWSSecret, envCaptureAccount, envCapturePassword, profile, file, why, remote.ErrDenied)
	}
	cfg.AccessKey, cfg.SecretKey, cfg.SessionToken = v.AccessKeyID, remote.Secret(v.SecretAccessKey), remote.Secret(v.SessionToken)
	return nil
}

// firstEnv returns the first non-empty value of the variables names.
func (a *app) firstEnv(names ...string) string {
	for _, n := range names {
		if v, ok := a.lookup(n); ok && strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// requests returns the request counts of the S3 store the command opened,
// or nil for a local repository.
func (a *app) requests() *remote.RequestCounts {
	if a.s3 == nil {
		return nil
	}
	c := a.s3.Requests()
	return &c
}
