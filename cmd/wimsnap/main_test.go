package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/snapshot"
	"github.com/wimsnap/wimsnap/wim"
)

// mapEnv returns a lookupFunc over m.
func mapEnv(m map[string]string) lookupFunc {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestResolveCaptureArgs(t *testing.T) {
	tests := []struct {
		name          string
		args          []string
		env           map[string]string
		source, wfile string
		usage         bool
		msg           string // in the usage error
	}{
		{name: "both given", args: []string{"src", "out.wim"}, source: "src", wfile: "out.wim"},
		{name: "both given, env ignored", args: []string{"src", "out.wim"},
			env:    map[string]string{envCaptureDestination: "d.wim", envTargetSystemRoot: "/sys"},
			source: "src", wfile: "out.wim"},
		{name: "destination from env", args: []string{"src"},
			env:    map[string]string{envCaptureDestination: "d.wim"},
			source: "src", wfile: "d.wim"},
		{name: "one arg is source when both set", args: []string{"src"},
			env:    map[string]string{envCaptureDestination: "d.wim", envTargetSystemRoot: "/sys"},
			source: "src", wfile: "d.wim"},
		{name: "system root stands for source", args: []string{"out.wim"},
			env:    map[string]string{envTargetSystemRoot: "/sys"},
			source: "/sys", wfile: "out.wim"},
		{name: "all from env", env: map[string]string{envCaptureDestination: "d.wim", envTargetSystemRoot: "/sys"},
			source: "/sys", wfile: "d.wim"},
		{name: "empty variable is unset", args: []string{"src"},
			env: map[string]string{envCaptureDestination: ""}, usage: true},
		{name: "one arg no env", args: []string{"src"}, usage: true},
		{name: "nothing", usage: true},
		{name: "no source", env: map[string]string{envCaptureDestination: "d.wim"}, usage: true},
		{name: "no destination", env: map[string]string{envTargetSystemRoot: "/sys"}, usage: true},
		{name: "too many", args: []string{"a", "b", "c"}, usage: true},
		// A variable that names what cannot stand for its argument is
		// named: the error was a stat or an open of a path nobody typed.
		{name: "destination is a directory", args: []string{"src"}, env: map[string]string{envCaptureDestination: "dir.wim"},
			usage: true, msg: `$OSDCaptureDestination="dir.wim" is a directory`},
		{name: "no such system root", args: []string{"out.wim"}, env: map[string]string{envTargetSystemRoot: "/nowhere"},
			usage: true, msg: `$OSDTargetSystemRoot="/nowhere": no such directory`},
		{name: "system root with backslashes", args: []string{"out.wim"}, env: map[string]string{envTargetSystemRoot: `C:\Windows`},
			usage: true, msg: `$OSDTargetSystemRoot="C:\Windows": no such directory`},
		{name: "system root not printable", args: []string{"out.wim"}, env: map[string]string{envTargetSystemRoot: "/a\nb"},
			usage: true, msg: `$OSDTargetSystemRoot="/a\nb": no such directory`},
		{name: "both given: variables not looked at", args: []string{"src", "out.wim"},
			env:    map[string]string{envCaptureDestination: "dir.wim", envTargetSystemRoot: "/nowhere"},
			source: "src", wfile: "out.wim"},
		// ConfigMgr names the Windows directory; its volume is captured.
		// It was captured itself, without the rest of the system.
		{name: "windows directory stands for its volume", env: map[string]string{envCaptureDestination: "d.wim",
			envTargetSystemRoot: filepath.FromSlash("/mnt/c/Windows")}, source: filepath.FromSlash("/mnt/c"), wfile: "d.wim"},
		{name: "windows directory with a slash", args: []string{"out.wim"},
			env:    map[string]string{envTargetSystemRoot: filepath.FromSlash("/mnt/c/Windows/")},
			source: filepath.FromSlash("/mnt/c"), wfile: "out.wim"},
	}
	dirs := []string{filepath.FromSlash("/mnt/c/Windows/System32"), filepath.FromSlash("/mnt/c"), "/sys", "dir.wim"}
	isDir := func(p string) bool { return slices.Contains(dirs, p) }
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, wf, err := resolveCaptureArgs(tt.args, readOSD(mapEnv(tt.env)), isDir)
			if tt.usage {
				var ue *usageError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.msg) {
					t.Fatalf("err = %v, want a usage error saying %q", err, tt.msg)
				}
				return
			}
			if err != nil || src != tt.source || wf != tt.wfile {
				t.Fatalf("got (%q, %q, %v), want (%q, %q, nil)", src, wf, err, tt.source, tt.wfile)
			}
		})
	}
}

func TestReadOSD(t *testing.T) {
	env := readOSD(mapEnv(map[string]string{
		envCaptureDestination: "/d.wim", envImageCreator: "ops", envImageDescription: "desc",
		envImageVersion: "1.2", envTargetSystemRoot: "/mnt", envCaptureAccount: "DOM\\svc",
		envCapturePassword: "hunter2",
	}))
	want := osdVars{Destination: "/d.wim", Creator: "ops", Description: "desc", Version: "1.2",
		SystemRoot: "/mnt", Account: credentials{User: "DOM\\svc", Password: "hunter2"}}
	if env != want {
		t.Fatalf("readOSD = %+v, want %+v", env, want)
	}
	for _, s := range []string{fmt.Sprint(env.Account), fmt.Sprintf("%v %+v %#v %s", env, env, env, env.Account)} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("password printed: %s", s)
		}
	}
	if got := readOSD(nil); got != (osdVars{}) {
		t.Errorf("readOSD(nil) = %+v", got)
	}
}

func TestImageInfo(t *testing.T) {
	env := osdVars{Creator: "env-creator", Description: "env-desc", Version: "env-ver"}
	tests := []struct {
		name    string
		f       imageFlags
		changed []string
		want    wim.ImageInfo
	}{
		{name: "env fills absent flags", want: wim.ImageInfo{Name: "data", Description: "env-desc", Creator: "env-creator", Version: "env-ver"}},
		{name: "flags win", f: imageFlags{name: "n", description: "d", creator: "c", version: "v", displayName: "dn", flags: "Pro"},
			changed: []string{"name", "description", "creator", "version"},
			want:    wim.ImageInfo{Name: "n", Description: "d", Creator: "c", Version: "v", DisplayName: "dn", Flags: "Pro"}},
		{name: "empty flag beats env", changed: []string{"description"},
			want: wim.ImageInfo{Name: "data", Creator: "env-creator", Version: "env-ver"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changed := func(n string) bool {
				for _, c := range tt.changed {
					if c == n {
						return true
					}
				}
				return false
			}
			if got := imageInfo(&tt.f, changed, env, "/srv/data/"); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDefaultImageName(t *testing.T) {
	for in, want := range map[string]string{"/srv/data": "data", "/srv/data/": "data", "/": "root", "rel/dir": "dir",
		"/srv/caf\xe9": `caf\xe9`, "/srv/caf\u00e9": "caf\u00e9", "/srv/\ufffd\xff": "\ufffd" + `\xff`,
		"/srv/a\x01b\x1b": `a\x01b\x1b`, "/srv/tab\there": "tab\there"} {
		if got := defaultImageName(in); got != want {
			t.Errorf("defaultImageName(%q) = %q, want %q", in, got, want)
		}
	}
}

// fakeImages is an imageSet with the given names.
type fakeImages []string

func (f fakeImages) ImageCount() int { return len(f) }
func (f fakeImages) Image(i int) wim.ImageInfo {
	return wim.ImageInfo{Index: i, Name: f[i-1]}
}

func TestSelectImage(t *testing.T) {
	two := fakeImages{"base", "42"}
	tests := []struct {
		name string
		set  imageSet
		spec string
		want int
		err  error // nil, wim.ErrNoImage, errUsage, or errNoImageUsage
	}{
		{name: "omitted, one image", set: fakeImages{"only"}, want: 1},
		{name: "omitted, two images", set: two, err: errUsage},
		{name: "omitted, no image", set: fakeImages{}, err: errNoImageUsage},
		{name: "index", set: two, spec: "2", want: 2},
		{name: "index first", set: two, spec: "1", want: 1},
		{name: "index zero", set: two, spec: "0", err: errNoImageUsage},
		{name: "index too big", set: two, spec: "3", err: errNoImageUsage},
		{name: "name", set: two, spec: "base", want: 1},
		{name: "numeric name is an index first", set: two, spec: "42", err: errNoImageUsage},
		{name: "signed is a name", set: two, spec: "+1", err: errNoImageUsage},
		{name: "unknown name", set: two, spec: "nope", err: errNoImageUsage},
		{name: "names are case-sensitive", set: two, spec: "BASE", err: errNoImageUsage},
		{name: "name two images have", set: fakeImages{"a", "dup", "dup"}, spec: "dup", err: errUsage},
		{name: "index of a name two images have", set: fakeImages{"dup", "dup"}, spec: "2", want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := selectImage(tt.set, tt.spec)
			var ue *usageError
			switch {
			case errors.Is(tt.err, errUsage):
				if !errors.As(err, &ue) {
					t.Fatalf("err = %v, want a usage error", err)
				}
			case errors.Is(tt.err, errNoImageUsage):
				if !errors.As(err, &ue) || !errors.Is(err, wim.ErrNoImage) {
					t.Fatalf("err = %v, want a usage error wrapping wim.ErrNoImage", err)
				}
			case tt.err != nil:
				if !errors.Is(err, tt.err) || errors.As(err, &ue) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
			case err != nil || got != tt.want:
				t.Fatalf("got (%d, %v), want %d", got, err, tt.want)
			}
		})
	}
}

// errUsage marks an expected usage error in tables, and errNoImageUsage
// one that also wraps wim.ErrNoImage.
var (
	errUsage        = errors.New("usage error expected")
	errNoImageUsage = errors.New("usage error wrapping wim.ErrNoImage expected")
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		interrupted bool
		want        int
	}{
		{"ok", nil, false, exitOK},
		{"ok despite a late signal", nil, true, exitOK},
		{"failure", errors.New("boom"), false, exitFailure},
		{"format", fmt.Errorf("x.wim: %w", wim.ErrFormat), false, exitFailure},
		{"checksum", fmt.Errorf("verify: %w", wim.ErrChecksum), false, exitFailure},
		{"unsupported", fmt.Errorf("lzms: %w", wim.ErrUnsupported), false, exitFailure},
		{"usage", usagef("bad"), false, exitUsage},
		{"wrapped usage", fmt.Errorf("x: %w", usagef("bad")), false, exitUsage},
		{"partial", partial(3), false, exitPartial},
		{"canceled", fmt.Errorf("capture: %w", context.Canceled), false, exitInterrupted},
		{"signal wins", errors.New("read: file closed"), true, exitInterrupted},
		{"no repository", fmt.Errorf("open: %w", snapshot.ErrNoRepository), false, exitNoRepo},
		{"no bucket", fmt.Errorf("get config: %w", remote.ErrNoBucket), false, exitNoRepo},
		{"locked", fmt.Errorf("snapshot: %w", snapshot.ErrLocked), false, exitLocked},
		{"denied", fmt.Errorf("put: %w", remote.ErrDenied), false, exitRemote},
		{"untrusted", fmt.Errorf("get: %w", remote.ErrUntrusted), false, exitRemote},
		{"unavailable", fmt.Errorf("get: %w", remote.ErrUnavailable), false, exitRemote},
		{"no such host", fmt.Errorf("get: %w", remote.ErrNoHost), false, exitRemote},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitCode(tt.err, tt.interrupted); got != tt.want {
				t.Fatalf("exitCode = %d, want %d", got, tt.want)
			}
		})
	}
	if partial(0) != nil {
		t.Error("partial(0) != nil")
	}
}

// runApp runs one command line in-process with a fresh app and env, and
// returns its exit code and outputs.
func runApp(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	a, out, errb := testApp(env)
	code := a.run(t.Context(), args)
	return code, out.String(), errb.String()
}

// runAppOK is runApp for a command that must succeed (exit 0): it fails
// the test otherwise, naming the command, and returns its stdout.
func runAppOK(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	code, out, errb := runApp(t, env, args...)
	if code != exitOK {
		t.Fatalf("%s: exit %d: %s%s", args[0], code, out, errb)
	}
	return out
}

// testApp returns an app writing into buffers, with the given environment.
func testApp(env map[string]string) (*app, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	a := &app{stdout: &out, stderr: &errb, lookup: mapEnv(env), now: time.Now, termWidth: func() int { return 0 }}
	return a, &out, &errb
}

// TestUsageErrors runs lines that must fail before touching any file.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		msg  string
	}{
		{nil, "missing command"},
		{[]string{"captur"}, "did you mean capture"},
		{[]string{"capture"}, "missing SOURCE"},
		{[]string{"capture", "src"}, "missing WIMFILE"},
		{[]string{"capture", "a", "b", "c"}, "want SOURCE WIMFILE"},
		{[]string{"capture", "a", "b", "Win11", "Reference"}, "are --name and --description"},
		{[]string{"append", "a", "b", "Win11"}, "are --name and --description"},
		{[]string{"capture", "--compress=zip", "a", "b"}, `unknown compression "zip"`},
		{[]string{"optimize", "x.wim", "--compress=zip"}, `unknown compression "zip"`},
		{[]string{"export-image", "x.wim", "1", "y.wim", "--compress=lzms:0"}, `level "0"`},
		{[]string{"capture", "a", "b", "--name=\xffx"}, `--name "\xffx" is not valid UTF-8`},
		{[]string{"append", "a", "b", "--description=\xff"}, "--description"},
		{[]string{"capture", "a", "b", "--display-name=\xff"}, "--display-name"},
		{[]string{"snapshot", "--repo=r", "--name=\xff", "a"}, "--name"},
		{[]string{"info", "x.wim", "1", "--name=\xff"}, "not valid UTF-8"},
		{[]string{"info", "x.wim", "1", "--description=\xff"}, "not valid UTF-8"},
		{[]string{"capture", "a", "b", "--image-property=A=\xff"}, "not valid UTF-8"},
		{[]string{"capture", "a", "b", "--name=a\x01b"}, `--name "a\x01b" holds control character U+0001`},
		{[]string{"info", "x.wim", "1", "--name=a\x1b"}, `--name "a\x1b" holds control character`},
		{[]string{"export-image", "x.wim", "1", "y.wim", "--name=\xff"}, `--name "\xff" is not valid UTF-8`},
		{[]string{"export-image", "x.wim", "1", "y.wim", "--description=a\x02"}, "--description"},
		{[]string{"capture", "a", "b", "--image-property=NOVALUE"}, "want NAME=VALUE"},
		{[]string{"capture", "a", "b", "--image-property=DIRCOUNT=3"}, "computed"},
		{[]string{"capture", "a", "b", "--threads=-1"}, "--threads"},
		{[]string{"capture", "a", "b", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"append", "a"}, "missing WIMFILE"},
		{[]string{"apply", "x.wim"}, "want WIMFILE [IMAGE] TARGET"},
		{[]string{"apply", "x.wim", "1", "t", "u"}, "want WIMFILE [IMAGE] TARGET"},
		{[]string{"extract", "x.wim", "1"}, "want WIMFILE IMAGE PATH..."},
		{[]string{"info"}, "want WIMFILE [IMAGE]"},
		{[]string{"dir", "a", "b", "c"}, "want WIMFILE [IMAGE]"},
		{[]string{"verify"}, "want WIMFILE"},
		{[]string{"verify", "--json=maybe", "x"}, `--json="maybe": want true or false`},
		{[]string{"export", "latest", "x.wim", "--threads=-1"}, "--threads"},
		{[]string{"import", "x.wim", "--threads=-1"}, "--threads"},
		{[]string{"optimize", "x.wim", "--threads=-1"}, "--threads"},
		{[]string{"restore", "latest", "--target=t", "--include=["}, "bad pattern"},
		{[]string{"frobnicate", "--repo", "x"}, `unknown command "frobnicate"`}, // not "unknown flag: --repo"
		{[]string{"snap", "--repo", "x"}, "did you mean snapshot"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			a, out, errb := testApp(nil)
			if code := a.run(context.Background(), tt.args); code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr: %s", code, exitUsage, errb)
			}
			if !strings.HasPrefix(errb.String(), "wimsnap: ") || !strings.Contains(errb.String(), tt.msg) {
				t.Errorf("stderr = %q, want it to contain %q", errb, tt.msg)
			}
			if out.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", out)
			}
		})
	}
}

// TestUsageErrorJSON: --json gives the error document also when flag
// parsing stopped before it, at an unknown flag or command.
func TestUsageErrorJSON(t *testing.T) {
	for _, args := range [][]string{
		{"capture", "a", "b", "--bogus", "--json"},
		{"forget", "--keep-last=abc", "--json"},
		{"frobnicate", "--repo", "x", "--json"},
		{"help", "nosuch", "--json"},
		{"help", "agent", "nosuch", "--json"},
	} {
		a, out, _ := testApp(nil)
		code := a.run(context.Background(), args)
		var doc failureDoc
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil || code != exitUsage || doc.ExitCode != exitUsage || doc.Error == "" {
			t.Errorf("%q: exit %d, stdout %q: %v", args, code, out, err)
		}
	}
	a, out, _ := testApp(nil)
	if a.run(context.Background(), []string{"capture", "a", "--bogus", "--", "--json"}); out.Len() != 0 {
		t.Errorf("--json after -- gave a document: %q", out)
	}
}

func TestHelp(t *testing.T) {
	for _, c := range []string{"capture", "append", "apply", "extract", "info", "dir", "verify", "export-image"} {
		a, out, _ := testApp(nil)
		if code := a.run(context.Background(), []string{c, "--help"}); code != exitOK {
			t.Fatalf("%s --help: exit %d", c, code)
		}
		if !strings.Contains(out.String(), "Exit codes:") || !strings.Contains(out.String(), "--json") {
			t.Errorf("%s --help lacks exit codes or flags:\n%s", c, out)
		}
		a, hout, _ := testApp(nil)
		if code := a.run(context.Background(), []string{"help", c}); code != exitOK || hout.String() != out.String() {
			t.Errorf("help %s: exit %d, and its text differs from %s --help's", c, code, c)
		}
	}
}

// TestAgentHelpExitCodes: the agent's help gives its own exit codes and
// not, after them, the commands' table (130 on a signal, where the agent
// exits 0; 3, 10, 11, 12, which it never gives).
func TestAgentHelpExitCodes(t *testing.T) {
	for _, args := range [][]string{{"agent", "--help"}, {"agent", "status", "--help"}} {
		a, out, _ := testApp(nil)
		if code := a.run(context.Background(), args); code != exitOK {
			t.Fatalf("%v: exit %d", args, code)
		}
		if n := strings.Count(out.String(), "Exit codes:"); n != 1 || strings.Contains(out.String(), "130") {
			t.Errorf("%v: %d exit code tables, or the commands' one:\n%s", args, n, out)
		}
	}
}

func TestArgsBetween(t *testing.T) {
	cmd := &cobra.Command{Use: "extract WIMFILE IMAGE PATH... [--dest-dir=DIR]"}
	v := argsBetween(3, -1)
	if err := v(cmd, []string{"a", "b", "c", "d"}); err != nil {
		t.Errorf("4 args: %v", err)
	}
	err := v(cmd, []string{"a"})
	if err == nil || err.Error() != "extract: want WIMFILE IMAGE PATH..., got 1 argument" {
		t.Errorf("1 arg: %v", err)
	}
}

func TestImagePaths(t *testing.T) {
	got := imagePaths([]string{"etc/passwd", "/usr/", `Windows\System32`, "a/../b", "/"})
	want := []string{"/etc/passwd", "/usr", `/Windows\System32`, "/b", "/"} // '\' is resolved against the image
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("imagePaths = %q, want %q", got, want)
	}
}

func TestWarnings(t *testing.T) {
	var errb bytes.Buffer
	w := &warnings{stderr: &errb}
	w.warn("/a/b", errors.New("permission denied"))
	if got := errb.String(); got != "wimsnap: warning: /a/b: permission denied\n" {
		t.Errorf("text warning = %q", got)
	}

	errb.Reset()
	j := &warnings{json: true, stderr: &errb}
	for i := range maxJSONWarnings + 5 {
		j.warn(fmt.Sprint("/f", i), io.ErrUnexpectedEOF)
	}
	list, total := j.summary()
	if len(list) != maxJSONWarnings || total != maxJSONWarnings+5 || errb.Len() != 0 {
		t.Errorf("json warnings: %d kept, %d total, stderr %q", len(list), total, errb.String())
	}
	if list, _ := (&warnings{json: true}).summary(); list == nil {
		t.Error("summary of no warnings is nil; JSON would show null")
	}
}

func TestFlagNames(t *testing.T) {
	if got := fmt.Sprint(flagNames(0x00020002 | 0x100)); got != "[compression compress_xpress 0x100]" {
		t.Errorf("flagNames = %s", got)
	}
	if got := fmt.Sprint(attributeNames(wim.AttrDirectory | wim.AttrReparsePoint)); got != "[DIRECTORY REPARSE_POINT]" {
		t.Errorf("attributeNames = %s", got)
	}
}

func TestWalkEntries(t *testing.T) {
	root := &wim.Entry{Attributes: wim.AttrDirectory, Children: []*wim.Entry{
		{Name: "a", Attributes: wim.AttrDirectory, Children: []*wim.Entry{{Name: "x"}}},
		{Name: "b"},
	}}
	var got []string
	walkEntries(root, func(p string, _ *wim.Entry) { got = append(got, p) })
	if want := "[/ /a /a/x /b]"; fmt.Sprint(got) != want {
		t.Fatalf("paths = %v, want %s", got, want)
	}
}

func TestStatusLine(t *testing.T) {
	if s := newStatusLine(io.Discard, false, nil); s != nil {
		t.Fatal("disabled status line is not nil")
	}
	var nilLine *statusLine
	nilLine.start(func() string { return "" })
	nilLine.finish()

	var buf bytes.Buffer
	s := newStatusLine(&buf, true, func() int { return 20 })
	s.draw("capturing: 1 dirs, 2 files, /very/long/path/name")
	s.printf(&buf, "msg\n")
	s.finish()
	if got := buf.String(); got != "\r\x1b[Kcapturing: 1 dirs,…\r\x1b[Kmsg\n" { // cut to 19 columns (truncate)
		t.Errorf("status output = %q", got)
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536 * 1024: "1.5 MiB", 5 << 30: "5.0 GiB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestPrintPruneDryRun: a dry run names how many packs it would repack,
// not the "0 new ones" that only a real run knows.
func TestPrintPruneDryRun(t *testing.T) {
	for _, dry := range []bool{true, false} {
		a, out, _ := testApp(nil)
		s := pruneSummary{Repository: "r", DryRun: dry}
		s.PacksDeleted, s.PacksRepacked, s.PacksWritten = 4, 4, map[bool]int{true: 0, false: 1}[dry]
		a.printPrune(s)
		want := map[bool]string{true: "would delete 4 packs; would repack 4;", false: "deleted 4 packs; repacked 4 into 1 new pack;"}[dry]
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run %v: %q, want %q", dry, out, want)
		}
	}
}

func TestImagePath(t *testing.T) {
	for in, want := range map[string]string{
		"": "/", "/": "/", "etc/ssh": "/etc/ssh", "/etc/ssh/": "/etc/ssh",
		`\Windows\System32`: "/Windows/System32", "/docs/../keep": "/keep", "//a//b": "/a/b",
	} {
		if got := imagePath(in); got != want {
			t.Errorf("imagePath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestReportMistakes: the several mistakes of an agent config are one
// line each on stderr, after the error's context, each escaped; one error
// that holds a newline stays one line.
func TestReportMistakes(t *testing.T) {
	a, _, errb := testApp(nil)
	a.report(nil, fmt.Errorf("agent config x: %w", mistakes{errors.New("job[1].name: \"a\nb\""), errors.New("prune.schedule: bad")}), exitUsage)
	want := "wimsnap: agent config x: job[1].name: \"a\\nb\"\nwimsnap: agent config x: prune.schedule: bad\n"
	if errb.String() != want {
		t.Errorf("stderr %q, want %q", errb.String(), want)
	}
	a, _, errb = testApp(nil)
	a.report(nil, errors.Join(os.ErrNotExist, os.ErrClosed), exitFailure)
	if got := errb.String(); strings.Count(got, "\n") != 1 {
		t.Errorf("a joined error that is not mistakes: stderr %q, want one line", got)
	}
}

// TestJoinedMessages: the JSON failure document lists each mistake of a
// joined error (an agent config's), wrapped or not.
func TestJoinedMessages(t *testing.T) {
	joined := fmt.Errorf("agent config x: %w", mistakes{errors.New("job[1].name: missing"), errors.New("prune.schedule: bad")})
	if got := joinedMessages(joined); !slices.Equal(got, []string{"job[1].name: missing", "prune.schedule: bad"}) {
		t.Errorf("joinedMessages = %q", got)
	}
	for _, err := range []error{
		fmt.Errorf("open: %w", os.ErrNotExist),
		fmt.Errorf("config: %w: %w", os.ErrNotExist, io.ErrUnexpectedEOF), // one failure, two causes
		errors.Join(os.ErrNotExist, os.ErrClosed),
	} {
		if got := joinedMessages(err); got != nil {
			t.Errorf("%v gave %q", err, got)
		}
	}
}
