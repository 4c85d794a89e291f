package miniotest

import (
	"net/http"
	"testing"

	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Creds are S3 credentials: a key pair and, for temporary credentials,
// a session token.
type Creds struct {
	AccessKey, SecretKey, SessionToken string
}

// Restricted returns temporary credentials (valid for an hour) that may
// do only what both the root user and policy allow: policy is an IAM
// policy document in JSON, such as one that allows reads only, or
// everything but deletes. They come from MinIO's STS AssumeRole, so no
// user is created on the server.
func (s *Server) Restricted(t testing.TB, policy string) Creds {
	t.Helper()
	tr := s.transport()
	defer tr.CloseIdleConnections()
	sts, err := credentials.NewSTSAssumeRole(s.URL, credentials.STSAssumeRoleOptions{
		AccessKey: s.AccessKey, SecretKey: s.SecretKey, Policy: policy, DurationSeconds: 3600,
		Location: Region,
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := sts.GetWithContext(&credentials.CredContext{Client: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatalf("assume role with a policy: %v", err)
	}
	return Creds{AccessKey: v.AccessKeyID, SecretKey: v.SecretAccessKey, SessionToken: v.SessionToken}
}
