package miniotest

import (
	"os"
	"testing"
)

func TestRequired(t *testing.T) {
	tests := []struct {
		env  string
		want bool
	}{
		{"", false},
		{"minio", true},
		{"wimlib,minio", true},
		{" wimlib , minio ", true},
		{"wimlib", false},
		{"minio-server", false},
		{"miniox", false},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			t.Setenv(RequireEnv, tt.env)
			if got := required("minio"); got != tt.want {
				t.Fatalf("required(minio) with %s=%q = %v, want %v", RequireEnv, tt.env, got, tt.want)
			}
		})
	}
}

func TestBinaryFromEnv(t *testing.T) {
	exe, err := os.Executable() // any executable file will do
	if err != nil {
		t.Skip(err)
	}
	t.Setenv("PATH", "")
	t.Setenv(BinaryEnv, exe)
	if got := Binary(t); got != exe {
		t.Fatalf("Binary() = %q, want %s from %s", got, exe, BinaryEnv)
	}
}
