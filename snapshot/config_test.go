package snapshot

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf16"
)

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	tests := []struct {
		rel   string
		isDir bool
		want  bool
	}{
		{"pagefile.sys", false, true},
		{"/PAGEFILE.SYS", false, true},
		{"hiberfil.sys", false, true},
		{"$ntfs.log", false, true},
		{"swapfile.sys", false, true},
		{"System Volume Information", true, true},
		{"system volume information/x", false, true},
		{"$RECYCLE.BIN", true, true},
		{"RECYCLER", true, true},
		{"Windows/CSC", true, true},
		{"windows/csc/a/b", false, true},
		{"Windows", true, false},
		{"Windows/CSCX", true, false},
		{"sub/pagefile.sys", false, false},
		{"_SMSTaskSequence", true, true},
		{"_SMSTaskSequence/Packages/x", false, true},
		{"_SMSTSVolumeID.8a4a0f8e-9a5b-4c1e-a2d7-1c2b3d4e5f60", false, true},
		{"Users/_SMSTaskSequence", true, false},
		{"", true, false},
		{"etc/passwd", false, false},
	}
	for _, tc := range tests {
		if got := c.Excluded(tc.rel, tc.isDir); got != tc.want {
			t.Errorf("Excluded(%q) = %v, want %v", tc.rel, got, tc.want)
		}
	}
	var nilc *Config
	if nilc.Excluded("pagefile.sys", false) || nilc.NoCompress("a.zip") {
		t.Error("nil Config excludes")
	}
}

const sampleIni = `; DISM configuration
[ExclusionList]
*.tmp
\Temp
"\Program Files\Cache"
C:\Users\*\AppData\Local\Temp
/logs/*.log
build/out
*.b?k

# exceptions
[ExclusionException]
\Temp\keep
keep.tmp
\logs\important.log

[CompressionExclusionList]
*.mp3
*.ZIP
\Windows\inf\*.pnf

[PrepopulateList]
\whatever
`

func TestParseConfigExcluded(t *testing.T) {
	c, err := ParseConfig(strings.NewReader(sampleIni))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		rel   string
		isDir bool
		want  bool
	}{
		{"relative glob at top", "a.tmp", false, true},
		{"relative glob deep", "x/y/z.TMP", false, true},
		{"relative glob no match", "a.tmpx", false, false},
		{"star within one component", "a/b.tmp/c", false, true}, // inside an excluded dir
		{"anchored file", "Temp", false, true},
		{"anchored dir contents", "temp/file", false, true},
		{"anchored not deep", "x/Temp", true, false},
		{"quoted with space", "Program Files/Cache", true, true},
		{"quoted contents", "program files/cache/blob", false, true},
		{"drive letter dropped", "Users/bob/AppData/Local/Temp", true, true},
		{"drive letter star one comp", "Users/bob/x/AppData/Local/Temp", true, false},
		{"forward slash anchored glob", "logs/a.log", false, true},
		{"anchored glob depth", "logs/old/a.log", false, false},
		{"relative multi-component", "src/build/out", true, true},
		{"relative multi-component top", "build/out", true, true},
		{"relative multi-component partial", "xbuild/out", true, false},
		{"question mark", "db.bak", false, true},
		{"question mark needs one", "db.bk", false, false},
		{"exception anchored inside excluded dir", "Temp/keep", true, false},
		{"exception keeps contents", "Temp/keep/a.tmp", false, false},
		{"parent of exception kept", "Temp", true, false},
		{"relative exception", "dir/keep.tmp", false, false},
		{"exception file in excluded glob dir", "logs/important.log", false, false},
		{"not excluded", "docs/readme.txt", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.Excluded(tc.rel, tc.isDir); got != tc.want {
				t.Errorf("Excluded(%q, %v) = %v, want %v", tc.rel, tc.isDir, got, tc.want)
			}
		})
	}
}

func TestExceptionReincludesParent(t *testing.T) {
	c, err := ParseConfig(strings.NewReader("[ExclusionList]\n\\dir\n[ExclusionException]\n\\dir\\sub\\file\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rel   string
		isDir bool
		want  bool
	}{
		{"dir", true, false},
		{"dir/other", false, true},
		{"dir/sub", true, false},
		{"dir/sub/file", false, false},
		{"dir/sub/file2", false, true},
		{"dir", false, true}, // a file named dir holds no exception
	} {
		if got := c.Excluded(tc.rel, tc.isDir); got != tc.want {
			t.Errorf("Excluded(%q, %v) = %v, want %v", tc.rel, tc.isDir, got, tc.want)
		}
	}
}

func TestNoCompress(t *testing.T) {
	c, err := ParseConfig(strings.NewReader(sampleIni))
	if err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]bool{
		"a.mp3": true, "x/y.zip": true, "Windows/INF/a.pnf": true,
		"Windows/inf/x/a.pnf": false, "a.txt": false, "whatever": false,
	} {
		if got := c.NoCompress(rel); got != want {
			t.Errorf("NoCompress(%q) = %v, want %v", rel, got, want)
		}
	}
}

func TestParseConfigEncodings(t *testing.T) {
	text := "[ExclusionList]\r\n\\données\\*.ÉTÉ\r\n😀.txt\r\n"
	u := utf16.Encode([]rune(text))
	utf16le := []byte{0xFF, 0xFE}
	for _, c := range u {
		utf16le = append(utf16le, byte(c), byte(c>>8))
	}
	for name, raw := range map[string][]byte{
		"utf8":        []byte(text),
		"utf8 bom":    append([]byte{0xEF, 0xBB, 0xBF}, text...),
		"utf16le bom": utf16le,
		"utf16le":     utf16le[2:], // wimlib reads it too; it was taken for UTF-8 with NULs
	} {
		t.Run(name, func(t *testing.T) {
			c, err := ParseConfig(strings.NewReader(string(raw)))
			if err != nil {
				t.Fatal(err)
			}
			if !c.Excluded("DONNÉES/a.été", false) {
				t.Error("case-insensitive non-ASCII match failed")
			}
			if !c.Excluded("x/😀.TXT", false) {
				t.Error("emoji match failed")
			}
			if c.Excluded("données/sub/a.été", false) {
				t.Error("anchored glob matched too deep")
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	for name, text := range map[string]string{
		"outside section":  "*.tmp\n",
		"bad header":       "[ExclusionList\n",
		"utf16be":          "\xFE\xFF\x00[",
		"odd utf16":        "\xFF\xFE[\x00x",
		"odd utf16 no bom": "[\x00x",
		"not utf8":         "[ExclusionList]\n\xff\xfe\xfd",
	} {
		if _, err := ParseConfig(strings.NewReader(text)); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err %v, want ErrConfig", name, err)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		glob, name string
		want       bool
	}{
		{"*", "", true},
		{"*", "abc", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"*.*", "noext", false},
		{"*.*", "a.b", true},
		{"??", "é😀", true},
		{"?", "ab", false},
		{"*a*a*", "banana", true},
		{"x\xff", "X\xff", true},
		{"x\xfe", "x\xff", false},
	} {
		if got := globMatch(tc.glob, tc.name); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.glob, tc.name, got, tc.want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(sampleIni))
	f.Add([]byte("\xFF\xFE[\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		c.Excluded("a/b/c.tmp", false)
		c.Excluded("Temp", true)
		c.NoCompress("x.zip")
	})
}

// excludedByAncestors is the plain statement of Excluded's rule, one
// prefix of rel at a time from the top, kept here to check the per-directory
// form (dirExclusion, excludedIn) that Excluded and the scanner use.
func excludedByAncestors(c *Config, rel string, isDir bool) bool {
	rel = strings.Trim(rel, "/")
	if rel == "" || len(c.exclude) == 0 {
		return false
	}
	excludedAbove, depth := false, 0
	for end := 0; end <= len(rel); end++ {
		if end < len(rel) && rel[end] != '/' {
			continue
		}
		depth++
		if matchAny(c.exceptions, rel[:end], depth) {
			return false
		}
		if matchAny(c.exclude, rel[:end], depth) {
			excludedAbove = true
		}
	}
	return excludedAbove && (!isDir || !c.exceptionBelow(rel))
}

// FuzzExcludedPerDirectory checks Excluded, and excludedIn with the
// directory's dirExclusion worked out once, against excludedByAncestors.
func FuzzExcludedPerDirectory(f *testing.F) {
	for _, s := range []string{"Temp/keep/x", "Temp/other", "a/b/c.tmp", "logs/important.log", "logs/x.log",
		"Program Files/Cache/y", "Users/bob/AppData/Local/Temp/z", "x/build/out/y", "keep.tmp", "a.bak"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	configs := []*Config{DefaultConfig()}
	for _, text := range []string{sampleIni, "[ExclusionList]\n\\dir\n[ExclusionException]\n\\dir\\sub\\file\n",
		"[ExclusionList]\n*\n[ExclusionException]\nb\n\\a\\*\\c\n"} {
		c, err := ParseConfig(strings.NewReader(text))
		if err != nil {
			f.Fatal(err)
		}
		configs = append(configs, c)
	}
	f.Fuzz(func(t *testing.T, rel string, isDir bool) {
		rel = strings.Trim(rel, "/")
		dir := ""
		if i := strings.LastIndexByte(rel, '/'); i >= 0 {
			dir = rel[:i]
		}
		for i, c := range configs {
			want := excludedByAncestors(c, rel, isDir)
			if got := c.Excluded(rel, isDir); got != want {
				t.Fatalf("config %d: Excluded(%q, %v) = %v, want %v", i, rel, isDir, got, want)
			}
			if rel == "" {
				continue
			}
			if got := c.excludedIn(c.dirExclusion(dir), rel, isDir); got != want {
				t.Fatalf("config %d: excludedIn(%q, %v) = %v, want %v", i, rel, isDir, got, want)
			}
		}
	})
}

func TestParseConfigWarnings(t *testing.T) {
	text := "[ExclusionLst]\n\\kept\n[PrepopulateList]\n\\x\n[ExclusionList]\n\\gone\n"
	c, err := ParseConfig(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	w := c.Warnings()
	if len(w) != 1 || !strings.Contains(w[0], "line 1: unknown section [ExclusionLst]") {
		t.Fatalf("warnings %q, want one for line 1's [ExclusionLst] only", w)
	}
	if c.Excluded("kept", false) || !c.Excluded("gone", false) {
		t.Error("the unknown section's lines must be ignored, the known one's kept")
	}
	if DefaultConfig().Warnings() != nil {
		t.Error("the default configuration has warnings")
	}
}

// TestParseConfigDriveLetters: "C:\pagefile.sys" is \pagefile.sys, but a
// drive-relative "C:pagefile.sys" is refused, as wimlib refuses it; it was
// taken as "pagefile.sys", which matches at every depth. A line that names
// no path below the root ("\", "C:\") is warned of; it was dropped silently.
func TestParseConfigDriveLetters(t *testing.T) {
	c, err := ParseConfig(strings.NewReader("[ExclusionList]\r\nC:\\pagefile.sys\r\n\\\r\nC:\\\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Excluded("pagefile.sys", false) || c.Excluded("sub/pagefile.sys", false) || c.Excluded("keep", false) {
		t.Error(`C:\pagefile.sys must exclude \pagefile.sys only`)
	}
	w := c.Warnings()
	if len(w) != 2 || !strings.Contains(w[0], `line 3: "\" names no path below the capture root`) ||
		!strings.Contains(w[1], `line 4: "C:\"`) {
		t.Errorf("warnings %q, want one for line 3 and one for line 4", w)
	}
	for _, glob := range []string{"C:pagefile.sys", "d:", `"c:Program Files"`} {
		_, err := ParseConfig(strings.NewReader("[ExclusionList]\n" + glob + "\n"))
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "line 2: ") ||
			!strings.Contains(err.Error(), "must be absolute") {
			t.Errorf("%s: error %v, want ErrConfig naming line 2 and asking for an absolute path", glob, err)
		}
	}
}

// TestConfigExclude: --exclude globs take the [ExclusionList] syntax; one
// that names no path or is drive-relative is refused and none is added.
// They were dropped silently, or ("C:x") taken to match at every depth.
func TestConfigExclude(t *testing.T) {
	c := &Config{}
	if err := c.Exclude(`C:\pagefile.sys`, ` "*.iso" `, `Windows\Temp`); err != nil {
		t.Fatal(err)
	}
	if !c.Excluded("pagefile.sys", false) || !c.Excluded("a/b.ISO", false) || !c.Excluded("x/Windows/Temp", true) {
		t.Error("good globs not added")
	}
	for _, bad := range []string{`\`, "", "C:x", `C:\`} {
		c := &Config{}
		err := c.Exclude("*.tmp", bad)
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), `"`+bad+`": `) {
			t.Errorf("Exclude(%q): %v, want ErrConfig naming it", bad, err)
		}
		if c.Excluded("a.tmp", false) {
			t.Errorf("Exclude(%q) failed but added the good glob", bad)
		}
	}
}
