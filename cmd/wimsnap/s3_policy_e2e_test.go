//go:build unix

package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/remote/miniotest"
)

// policyAllowing returns an IAM policy allowing the S3 actions given on
// bucket and its objects, and nothing else.
func policyAllowing(bucket string, actions ...string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["%s"],`+
		`"Resource":["arn:aws:s3:::%s","arn:aws:s3:::%s/*"]}]}`, strings.Join(actions, `","`), bucket, bucket)
}

// as returns a copy of r using the credentials c.
func (r *repoEnv) as(c miniotest.Creds) *repoEnv {
	return r.with(envAWSKey+"="+c.AccessKey, envAWSSecret+"="+c.SecretKey, envAWSToken+"="+c.SessionToken)
}

// TestS3RestrictedCredentials uses an S3 repository with credentials a
// policy restricts: read-only ones restore and check with --no-lock, and a
// restore that needs a lock suggests it; with ones that may write but not delete (an
// "append-only" user), every command that leaves its lock behind says so
// on stderr, JSON mode included, instead of leaving the next prune to wait
// for a lock nobody mentioned.
func TestS3RestrictedCredentials(t *testing.T) {
	bin := buildBinary(t)
	srv := miniotest.Start(t)
	src := filepath.Join(t.TempDir(), "src")
	writeFile(t, src, "a.txt", []byte("some data\n"))
	writeFile(t, src, "d/b.bin", randomBytes(7, 100000))
	bucket := srv.NewBucket(t)
	root := newS3Env(t, bin, srv, srv.URL, bucket)
	root.run(t, exitOK, "init")
	root.run(t, exitOK, "snapshot", src)

	t.Run("read-only", func(t *testing.T) {
		r := root.as(srv.Restricted(t, policyAllowing(bucket, "s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation")))
		res := r.run(t, exitRemote, "snapshot", src)
		if !strings.Contains(res.stderr, "access denied: the credentials may not write to bucket "+bucket) ||
			strings.Count(res.stderr, "remote:") != 1 {
			t.Errorf("snapshot with read-only credentials: stderr %q; want the access denied explained, with one \"remote:\"", res.stderr)
		}
		res = r.run(t, exitRemote, "restore", "latest", "--target", filepath.Join(t.TempDir(), "locked"))
		if !strings.Contains(res.stderr, "--no-lock") {
			t.Errorf("restore with read-only credentials: stderr %q; want --no-lock suggested", res.stderr)
		}
		target := filepath.Join(t.TempDir(), "target")
		r.run(t, exitOK, "restore", "latest", "--target", target, "--no-lock")
		compareTrees(t, src, target)
		r.run(t, exitOK, "check", "--read-data", "--no-lock")
	})

	// Credentials for a prefix of the bucket alone init a repository there
	// and use it: init failed at its check of the bucket (HeadBucket needs
	// ListBucket on all of it), exit 12.
	t.Run("prefix only", func(t *testing.T) {
		policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[`+
			`{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject"],"Resource":["arn:aws:s3:::%[1]s/tenant/*"]},`+
			`{"Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::%[1]s"],"Condition":{"StringLike":{"s3:prefix":["tenant/*"]}}},`+
			`{"Effect":"Allow","Action":["s3:GetBucketLocation"],"Resource":["arn:aws:s3:::%[1]s"]}]}`, bucket)
		r := root.at(srv.URL + "/" + bucket + "/tenant/r").as(srv.Restricted(t, policy))
		r.run(t, exitOK, "init")
		r.run(t, exitOK, "snapshot", src)
		target := filepath.Join(t.TempDir(), "target")
		r.run(t, exitOK, "restore", "latest", "--target", target)
		compareTrees(t, src, target)
		// Elsewhere in the bucket they are refused, as before.
		root.at(srv.URL+"/"+bucket+"/other").as(srv.Restricted(t, policy)).run(t, exitRemote, "init")
	})

	t.Run("no deletes", func(t *testing.T) {
		r := root.as(srv.Restricted(t, policyAllowing(bucket,
			"s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:GetBucketLocation")))
		const left = "wimsnap: warning: repository: removing lock"
		captured := filepath.Join(t.TempDir(), "captured.wim")
		root.run(t, exitOK, "capture", src, captured)
		tests := []struct {
			name string
			want int
			args []string
		}{
			{"snapshot", exitOK, []string{"snapshot", src, "--force"}},
			{"restore", exitOK, []string{"restore", "latest", "--target", filepath.Join(t.TempDir(), "target")}},
			{"check", exitOK, []string{"check"}},
			{"check --json", exitOK, []string{"check", "--json"}},
			{"export", exitOK, []string{"export", "latest", filepath.Join(t.TempDir(), "out.wim")}},
			{"import", exitOK, []string{"import", captured}},
			{"forget", exitRemote, []string{"forget", "latest"}},
			{"forget --json", exitRemote, []string{"forget", "latest", "--json"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := len(listKeys(t, srv, bucket, "repo/locks/"))
				res := r.run(t, tt.want, tt.args...)
				if !strings.Contains(res.stderr, left) {
					t.Errorf("the lock it could not remove is not mentioned; stderr:\n%s", res.stderr)
				}
				if after := len(listKeys(t, srv, bucket, "repo/locks/")); after != before+1 {
					t.Errorf("%d locks before, %d after; want one more", before, after)
				}
			})
		}
	})
}
