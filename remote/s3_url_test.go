package remote

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestParseS3URL(t *testing.T) {
	tests := []struct {
		in   string
		want S3Config
	}{
		{"s3:http://127.0.0.1:9000/bucket", S3Config{Endpoint: "127.0.0.1:9000", Insecure: true, Bucket: "bucket", Lookup: S3LookupAuto}},
		{"s3:https://minio.lab:9000/backups/wimsnap", S3Config{Endpoint: "minio.lab:9000", Bucket: "backups", Prefix: "wimsnap", Lookup: S3LookupAuto}},
		{"s3:s3.amazonaws.com/bucket", S3Config{Endpoint: "s3.amazonaws.com", Bucket: "bucket", Lookup: S3LookupAuto}},
		{"s3:s3.amazonaws.com/bucket/a/b/", S3Config{Endpoint: "s3.amazonaws.com", Bucket: "bucket", Prefix: "a/b", Lookup: S3LookupAuto}},
		{"s3:http://h/my.bucket-1/p?region=eu-west-1&lookup=path", S3Config{Endpoint: "h", Insecure: true, Bucket: "my.bucket-1", Prefix: "p", Region: "eu-west-1", Lookup: S3LookupPath}},
		{"s3:https://h/b12?lookup=dns", S3Config{Endpoint: "h", Bucket: "b12", Lookup: S3LookupDNS}},
	}
	for _, tt := range tests {
		got, err := ParseS3URL(tt.in)
		if err != nil {
			t.Errorf("ParseS3URL(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseS3URL(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseS3URLErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/local/path", "not an s3: URL"},
		{"s3:ftp://h/b", "scheme"},
		{"s3:http:///bucket", "no host"},
		{"s3:http://h", "no bucket"},
		{"s3:http://h/", "no bucket"},
		{"s3:http://h/Bucket", "not a valid bucket name"},
		{"s3:http://h/ab", "not a valid bucket name"},
		{"s3:http://h/-ab", "not a valid bucket name"},
		{"s3:http://h/a..b", "not a valid bucket name"},
		{"s3:http://h/b12/x//y", "prefix"},
		{"s3:http://h/b12/../y", "prefix"},
		{"s3:http://key:secret@h/b12", "credentials do not belong"},
		{"s3:http://h/b12?secret=x", "unknown parameter"},
		{"s3:http://h/b12?lookup=sideways", "lookup"},
		{"s3:http://h:99999/b12", "port"},
		{"s3:http://h:0/b12", "port"},
		{"s3:http://:9000/b12", "no host"},
		// Dropped or decoded, they named another prefix than the one given.
		{"s3:http://h/b12/a#b", "fragment"},
		{"s3:http://h/b12/p%2Fq", "percent-escape"},
		// AWS's form of a bucket, and a space (it said "percent-escape").
		{"s3://h:9000/b12/r", "write it s3:HOST/BUCKET"},
		{"s3:http://h/b12/my repo", "byte ' ' not allowed"},
	}
	for _, tt := range tests {
		_, err := ParseS3URL(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseS3URL(%q) = %v, want an error containing %q", tt.in, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") && !strings.Contains(tt.in, "?secret") {
			t.Errorf("ParseS3URL(%q): error repeats the secret: %v", tt.in, err)
		}
	}
}

func TestS3Location(t *testing.T) {
	cfg, err := ParseS3URL("s3:http://127.0.0.1:9000/bucket/pre/fix")
	if err != nil {
		t.Fatal(err)
	}
	cfg.AccessKey, cfg.SecretKey = "AKIAEXAMPLE", "very-secret-key"
	s, err := NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.Location(), "s3:http://127.0.0.1:9000/bucket/pre/fix"; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	if got := s.object("packs/ab/x"); got != "pre/fix/packs/ab/x" {
		t.Errorf("object key = %q", got)
	}
}

func TestSecretRedacted(t *testing.T) {
	cfg := S3Config{Endpoint: "h", Bucket: "b12", SecretKey: "hunter2-hunter2", SessionToken: "tok-tok-tok"}
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{
		fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%s", cfg.SecretKey),
		fmt.Sprintf("%q", cfg.SecretKey), fmt.Sprint(cfg.SessionToken), string(j),
	} {
		if strings.Contains(out, "hunter2") || strings.Contains(out, "tok-tok") {
			t.Errorf("secret printed: %s", out)
		}
		if !strings.Contains(out, "redacted") {
			t.Errorf("no %s in %s", redacted, out)
		}
	}
	if Secret("").String() != "" {
		t.Error("an empty secret prints as non-empty")
	}
}
