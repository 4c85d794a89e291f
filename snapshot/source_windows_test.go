package snapshot

import "testing"

func TestPlainPath(t *testing.T) {
	for in, want := range map[string]string{
		`\\?\C:\Data`: `C:\Data`, `\\?\C:`: `C:\`, `\\?\C:\`: `C:\`, `\\?\UNC\srv\share\x`: `\\srv\share\x`,
		`\\?\unc\srv\share`: `\\srv\share`, `C:\Data`: `C:\Data`, `\\srv\share`: `\\srv\share`,
		`\\?\GLOBALROOT\Device\HarddiskVolumeShadowCopy1\x`: `\\?\GLOBALROOT\Device\HarddiskVolumeShadowCopy1\x`,
	} {
		if got := PlainPath(in); got != want {
			t.Errorf("PlainPath(%q) = %q, want %q", in, got, want)
		}
	}
}
