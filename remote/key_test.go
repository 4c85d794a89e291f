package remote_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/remote"
)

func TestValidKey(t *testing.T) {
	long := strings.Repeat("a", 255)
	mid := strings.Repeat(strings.Repeat("b", 200)+"/", 4) // 804 bytes
	for _, tc := range []struct {
		name string
		key  string
		ok   bool
	}{
		{"plain", "config", true},
		{"nested", "packs/ab/abcdef0123", true},
		{"allChars", "A-z_0.9/x.y", true},
		{"dotInside", "a/b.c", true},
		{"component255", long, true},
		{"maxLen", mid + strings.Repeat("a", remote.MaxKeyLen-len(mid)), true},
		{"empty", "", false},
		{"slash", "/", false},
		{"absolute", "/abs", false},
		{"dotDot", "a/../b", false},
		{"dot", ".", false},
		{"dotComponent", "a/./b", false},
		{"emptyComponent", "a//b", false},
		{"trailingSlash", "a/", false},
		{"hidden", ".config", false},
		{"tempFile", "packs/ab/.tmp-x", false},
		{"backslash", `a\b`, false},
		{"space", "a b", false},
		{"nul", "a\x00", false},
		{"nonASCII", "schlüssel", false},
		{"component256", long + "a", false},
		{"tooLong", mid + strings.Repeat("a", remote.MaxKeyLen-len(mid)+1), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := remote.ValidKey(tc.key)
			if tc.ok && err != nil {
				t.Errorf("ValidKey(%q) = %v, want nil", tc.key, err)
			}
			if !tc.ok && !errors.Is(err, remote.ErrInvalidKey) {
				t.Errorf("ValidKey(%q) = %v, want ErrInvalidKey", tc.key, err)
			}
		})
	}
}
