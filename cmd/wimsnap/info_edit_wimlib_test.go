//go:build unix && wimlib

package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestOracleInfoBoot: info IMAGE --boot sets the boot index that
// wimlib-imagex reads, and info 0 --boot clears it.
func TestOracleInfoBoot(t *testing.T) {
	w, _ := threeImageWIM(t, t.TempDir()) // b (2) boots
	runAppOK(t, nil, "info", w, "c", "--boot")
	if got := wimlibBootIndex(t, w); got != "3" {
		t.Errorf("boot index after info c --boot: %s, want 3", got)
	}
	runAppOK(t, nil, "info", w, "0", "--boot")
	if got := wimlibBootIndex(t, w); got != "0" {
		t.Errorf("boot index after info 0 --boot: %s, want 0", got)
	}
	wimtest.Wimlib(t, "verify", w)
}

// TestOracleImageProperty: the elements --image-property sets with
// capture, append and info are those wimlib-imagex reads, nested ones
// included, and a property it sets wimsnap replaces.
func TestOracleImageProperty(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	writeFile(t, src, "a.txt", []byte("a"))
	w := filepath.Join(tmp, "p.wim")
	runAppOK(t, nil, "capture", src, w, "--image-property", "WINDOWS/EDITIONID=Enterprise",
		"--image-property", "DISPLAYNAME=Shown", "--image-property", "NAME=first")
	runAppOK(t, nil, "append", src, w, "--name=second", "--image-property", "WINDOWS/PRODUCTNAME=Windows 11 Pro")
	wimtest.Wimlib(t, "info", w, "2", "--image-property", "FLAGS=Professional")
	runAppOK(t, nil, "info", w, "2", "--image-property", "FLAGS=Enterprise", "--image-property", "WINDOWS/LANGUAGES/LANGUAGE=en-US")
	for _, c := range []struct{ image, key, want string }{
		{"1", "Name", "first"},
		{"1", "Display Name", "Shown"},
		{"1", "Edition ID", "Enterprise"},
		{"2", "Name", "second"},
		{"2", "Product Name", "Windows 11 Pro"},
		{"2", "Flags", "Enterprise"},
		{"2", "Languages", "en-US"},
	} {
		if got := wimlibInfoField(t, w, c.image, c.key); got != c.want {
			t.Errorf("image %s %s: wimlib shows %q, want %q", c.image, c.key, got, c.want)
		}
	}
	wimtest.Wimlib(t, "verify", w)
}

// wimlibInfoField returns the value of key in wimlib-imagex info's
// listing of image of w.
func wimlibInfoField(t *testing.T, w, image, key string) string {
	t.Helper()
	for _, line := range strings.Split(wimtest.Wimlib(t, "info", w, image), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
