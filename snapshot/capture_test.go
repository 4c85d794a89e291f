//go:build unix

package snapshot

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func names(e *wim.Entry) []string {
	var n []string
	for _, c := range e.Children {
		n = append(n, c.Name)
	}
	return n
}

func TestCaptureVanishedFile(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"a": "aaa", "b": "bbb", "c": "ccc", "sub/d": "ddd"})
	var warns warnings
	opts := CaptureOptions{Warn: warns.add}
	opts.beforeOpen = func(path string) {
		if filepath.Base(path) == "b" || filepath.Base(path) == "d" {
			if err := os.Remove(path); err != nil {
				t.Error(err)
			}
		}
	}
	m, st, err := Capture(t.Context(), src, newMemStore(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if st.Skipped != 2 || st.Files != 2 || len(warns.list) != 2 {
		t.Errorf("stats %+v, warnings %q; want 2 skipped, 2 files", st, warns.list)
	}
	if got := strings.Join(names(m.Root), ","); got != "a,c,sub" {
		t.Errorf("root children %s, want a,c,sub", got)
	}
	if len(find(m.Root, "sub").Children) != 0 {
		t.Error("vanished sub/d still in the image")
	}
}

// changingSink runs change after reading the first byte of each stream.
type changingSink struct {
	*memStore
	change func()
}

func (c changingSink) AddStream(r io.Reader, size int64) (wim.Hash, error) {
	var one [1]byte
	if _, err := io.ReadFull(r, one[:]); err != nil {
		return wim.Hash{}, err
	}
	c.change()
	return c.memStore.AddStream(io.MultiReader(bytes.NewReader(one[:]), r), size)
}

// TestCaptureSizeChanged: a file that grows while it is read is kept as it
// was when opened, with a warning; one that shrinks is skipped.
func TestCaptureSizeChanged(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"grow": strings.Repeat("g", 100000), "shrink": strings.Repeat("s", 100000), "ok": "fine"})
	var current string
	opts := CaptureOptions{Warn: func(p string, err error) {
		if !errors.Is(err, wim.ErrSizeChanged) {
			t.Errorf("%s: %v, want ErrSizeChanged", p, err)
		}
	}}
	opts.beforeOpen = func(path string) { current = path }
	sink := changingSink{newMemStore(), func() {
		switch filepath.Base(current) {
		case "grow":
			f, err := os.OpenFile(current, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Error(err)
				return
			}
			_, err = f.WriteString("more")
			if err := errors.Join(err, f.Close()); err != nil {
				t.Error(err)
			}
		case "shrink":
			if err := os.Truncate(current, 10); err != nil {
				t.Error(err)
			}
		}
	}}
	m, st, err := Capture(t.Context(), src, sink, opts)
	if err != nil {
		t.Fatal(err)
	}
	if st.Skipped != 1 || st.Warnings != 1 || strings.Join(names(m.Root), ",") != "grow,ok" {
		t.Fatalf("stats %+v, children %q; want grow kept with a warning and shrink skipped", st, names(m.Root))
	}
	grow := find(m.Root, "grow")
	if want := wimHash([]byte(strings.Repeat("g", 100000))); grow.Data.Size != 100000 || grow.Data.Hash != want {
		t.Errorf("grow kept as %+v, want its 100000 bytes as opened", grow.Data)
	}
}

// dropDACCaps removes CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the
// calling thread, which must be locked and never unlocked, so that root
// is refused by file modes like any user. Without root it does nothing.
func dropDACCaps(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		return
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		t.Errorf("capget: %v", err)
		return
	}
	data[0].Effective &^= 1<<unix.CAP_DAC_OVERRIDE | 1<<unix.CAP_DAC_READ_SEARCH
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		t.Errorf("capset: %v", err)
	}
}

// TestCaptureUnreadable: files and directories that cannot be read are
// skipped and the capture finishes. As root, the capture runs on a thread
// without the capabilities that bypass file modes. The scanner's threads
// keep them, so the walk opens each directory itself (keptDirs -1): a
// descriptor from the scanner would let it into "closed".
func TestCaptureUnreadable(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"a": "aaa", "secret": "s", "closed/x": "x", "z": "zzz"})
	if err := os.Chmod(filepath.Join(src, "secret"), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(src, "closed"), 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.Chmod(filepath.Join(src, "closed"), 0o755); err != nil {
			t.Error(err)
		}
	})
	type result struct {
		m     *wim.Metadata
		st    CaptureStats
		err   error
		warns []string
	}
	done := make(chan result)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		dropDACCaps(t)
		var warns warnings
		m, st, err := Capture(context.Background(), src, newMemStore(), CaptureOptions{Warn: warns.add, keptDirs: -1})
		done <- result{m, st, err, warns.list}
	}()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Logf("warnings: %q", r.warns)
	if r.st.Skipped != 2 || len(r.warns) != 2 {
		t.Errorf("stats %+v; want 2 skipped", r.st)
	}
	if got := strings.Join(names(r.m.Root), ","); got != "a,z" {
		t.Errorf("root children %s, want a,z", got)
	}
}

// TestCaptureUpdateReuse: with Update, unchanged files are not opened and
// keep their streams; changed ones are read.
func TestCaptureUpdateReuse(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"a": "aaa", "b": "bbb", "dir/c": "ccc", "dir/d": "ddd", "empty": ""})
	store := newMemStore()
	m1, _, err := Capture(t.Context(), src, store, CaptureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Change b's contents (same size, new mtime) and d's mode.
	if err := os.WriteFile(filepath.Join(src, "b"), []byte("BBB"), 0o644); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(src, "b"), future, future); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(src, "dir/d"), 0o600); err != nil {
		t.Fatal(err)
	}
	var opened []string
	opts := CaptureOptions{Update: m1}
	opts.beforeOpen = func(p string) { opened = append(opened, filepath.Base(p)) }
	m2, st, err := Capture(t.Context(), src, store, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(opened, ","); got != "b,d" {
		t.Errorf("opened %s, want b,d", got)
	}
	if st.Reused != 3 || st.BytesRead != 6 {
		t.Errorf("stats %+v, want 3 reused (a, dir/c, empty), 6 bytes read", st)
	}
	if find(m2.Root, "a").Data != find(m1.Root, "a").Data || find(m2.Root, "b").Data.Hash == find(m1.Root, "b").Data.Hash {
		t.Error("streams not reused or not renewed")
	}
	// An unchanged file's entry is the previous image's own; a changed
	// one's is new.
	if find(m2.Root, "a") != find(m1.Root, "a") || find(m2.Root, "b") == find(m1.Root, "b") ||
		find(m2.Root, "dir/d") == find(m1.Root, "dir/d") {
		t.Error("entries of unchanged files not shared, or of changed ones shared")
	}
	// A sink that lacks the old streams makes everything be read again.
	opened = nil
	if _, _, err := Capture(t.Context(), src, newMemStore(), opts); err != nil {
		t.Fatal(err)
	}
	if len(opened) != 4 {
		t.Errorf("opened %q with an empty sink, want all 4 non-empty files", opened)
	}
}

func TestCaptureExclusions(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"pagefile.sys": "p", "keep/pagefile.sys": "k", "x.tmp": "t", "Temp/a": "a", "Temp/keep/b": "b"})
	cfg, err := ParseConfig(strings.NewReader("[ExclusionList]\n*.tmp\n\\temp\n[ExclusionException]\n\\Temp\\keep\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := Capture(t.Context(), src, newMemStore(), CaptureOptions{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names(m.Root), ","); got != "keep,pagefile.sys,Temp" {
		t.Errorf("root %s", got)
	}
	if got := strings.Join(names(find(m.Root, "Temp")), ","); got != "keep" {
		t.Errorf("Temp holds %s, want keep", got)
	}
	m, _, err = Capture(t.Context(), src, newMemStore(), CaptureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if find(m.Root, "pagefile.sys") != nil || find(m.Root, "keep/pagefile.sys") == nil {
		t.Error("default config: \\pagefile.sys not excluded at the root only")
	}
}

func TestCaptureCancel(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"a": "a", "b": "b"})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := Capture(ctx, src, newMemStore(), CaptureOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
	if _, _, err := Capture(t.Context(), filepath.Join(src, "nope"), newMemStore(), CaptureOptions{}); err == nil {
		t.Error("missing root: no error")
	}
}

// TestCaptureCancelWhileReading cancels during a 64 GiB (sparse) file: the
// capture must stop within that file, not after it.
func TestCaptureCancelWhileReading(t *testing.T) {
	src := t.TempDir()
	wimtest.SparseFile(t, filepath.Join(src, "huge"), 64<<30)
	ctx, cancel := context.WithCancel(t.Context())
	var read int64
	_, _, err := Capture(ctx, src, discardSink{cancel, &read}, CaptureOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if read > 1<<20 {
		t.Errorf("%d bytes read after the cancel: the file was read on", read)
	}
}

// discardSink reads streams without keeping them, calling cancel after
// the first byte.
type discardSink struct {
	cancel func()
	read   *int64
}

func (d discardSink) AddStream(r io.Reader, size int64) (wim.Hash, error) {
	var one [1]byte
	if _, err := io.ReadFull(r, one[:]); err != nil {
		return wim.Hash{}, err
	}
	d.cancel()
	n, err := io.Copy(io.Discard, r)
	*d.read += n
	if err != nil {
		return wim.Hash{}, err
	}
	return wim.Hash{1}, nil
}

func (discardSink) HasStream(wim.Hash) bool { return false }

// TestCaptureSkip leaves out the files of CaptureOptions.Skip by inode,
// under any name.
func TestCaptureSkip(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"keep": "k", "out.wim": "w"})
	if err := os.Link(filepath.Join(src, "out.wim"), filepath.Join(src, "alias")); err != nil {
		t.Fatal(err)
	}
	m, _, err := Capture(t.Context(), src, newMemStore(), CaptureOptions{Skip: []string{filepath.Join(src, "out.wim"), "/nonexistent"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(m.Root); strings.Join(got, ",") != "keep" {
		t.Errorf("children %v, want only keep", got)
	}
}

// TestCaptureNoUnixData: without UNIX data, no entry has any, and special
// files, which cannot be stored without it, are left out with a warning.
func TestCaptureNoUnixData(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	m, st, err := Capture(t.Context(), src, newMemStore(), CaptureOptions{NoUnixData: true, Warn: func(string, error) {}})
	if err != nil {
		t.Fatal(err)
	}
	// Special files are left out as asked: warnings, not skipped files
	// (which make a capture partial, exit 3).
	if st.Special != 0 || st.Skipped != 0 || st.Warnings == 0 {
		t.Errorf("stats %+v: special files should be left out with warnings", st)
	}
	var walk func(e *wim.Entry)
	walk = func(e *wim.Entry) {
		if e.Unix != nil || e.Xattrs != nil {
			t.Errorf("%q has UNIX data or xattrs", e.Name)
		}
		for _, c := range e.Children {
			walk(c)
		}
	}
	walk(m.Root)
}

// TestSparse5G captures a 5 GiB sparse file into an XPRESS WIM and applies
// it; holes are not read and come back as holes.
func TestSparse5G(t *testing.T) {
	if testing.Short() {
		t.Skip("5 GiB sparse file in -short mode")
	}
	tmp := t.TempDir()
	src, out, w := filepath.Join(tmp, "src"), filepath.Join(tmp, "out"), filepath.Join(tmp, "x.wim")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	wimtest.MakeTree(t, filepath.Join(src, "tree"), wimtest.TreeOptions{Sparse5G: true})
	start := time.Now()
	st := captureWIM(t, src, w, CaptureOptions{})
	t.Logf("capture: %v, %+v", time.Since(start), st)
	if st.BytesRead > 100<<20 {
		t.Errorf("read %d bytes: holes were read", st.BytesRead)
	}
	r, m := openWIM(t, w)
	e := find(m.Root, "tree/"+wimtest.Sparse5G)
	if e == nil || e.Attributes != wim.AttrSparseFile || e.Data.Size != 5<<30 {
		t.Fatalf("sparse entry %+v", e)
	}
	start = time.Now()
	applyOK(t, m, r, out, ApplyOptions{})
	t.Logf("apply: %v", time.Since(start))
	var fst unix.Stat_t
	if err := unix.Stat(filepath.Join(out, "tree", wimtest.Sparse5G), &fst); err != nil {
		t.Fatal(err)
	}
	if fst.Size != 5<<30 || fst.Blocks*512 > 10<<20 {
		t.Errorf("applied file: size %d, %d blocks; want 5 GiB, sparse", fst.Size, fst.Blocks)
	}
	wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})

	// The oracle: wimlib verifies the WIM (its 64-bit chunk table
	// included) and applies the same tree.
	wimtest.Require(t, "wimlib-imagex")
	start = time.Now()
	wimtest.Wimlib(t, "verify", w)
	t.Logf("wimlib verify: %v", time.Since(start))
	if err := os.RemoveAll(out); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	wimtest.Wimlib(t, "apply", w, "1", out, "--unix-data")
	t.Logf("wimlib apply: %v", time.Since(start))
	wimtest.CompareTrees(t, src, out, wimtest.CompareOptions{})
}

// TestCaptureCrossMounts: a mount point is kept as an empty directory
// unless CrossMounts is set. It needs to mount a tmpfs (root).
func TestCaptureCrossMounts(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"a": "a", "mnt/.keep": ""})
	mnt := filepath.Join(src, "mnt")
	if err := unix.Mount("wimsnap-test", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
			t.Error(err)
		}
	})
	writeFiles(t, mnt, map[string]string{"inside": "x"})
	var last Progress
	m, st, err := Capture(t.Context(), src, newMemStore(), CaptureOptions{Progress: func(p Progress) { last = p }})
	if err != nil {
		t.Fatal(err)
	}
	if e := find(m.Root, "mnt"); e == nil || !e.IsDir() || len(e.Children) != 0 {
		t.Errorf("mount point: %+v, want an empty directory", e)
	}
	if last.Files != st.Files || last.Dirs != st.Dirs || st.Files != 1 {
		t.Errorf("final progress %+v, stats %+v", last, st)
	}
	m, _, err = Capture(t.Context(), src, newMemStore(), CaptureOptions{CrossMounts: true})
	if err != nil {
		t.Fatal(err)
	}
	if find(m.Root, "mnt/inside") == nil {
		t.Error("CrossMounts: mnt/inside missing")
	}
}

// TestCaptureXattrsByPath: reading xattrs by path, as on kernels without
// listxattrat, gives the same image as reading them by directory and name.
func TestCaptureXattrsByPath(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	sink := newMemStore()
	want, _, err := Capture(t.Context(), src, sink, CaptureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := Capture(t.Context(), src, sink, CaptureOptions{pathXattrs: true})
	if err != nil {
		t.Fatal(err)
	}
	// Reading files moves atimes, so compare the xattrs alone.
	xattrs := func(m *wim.Metadata) map[string][]wim.Xattr {
		out := map[string][]wim.Xattr{}
		_ = m.Walk(func(p string, e *wim.Entry) error { out[p] = e.Xattrs; return nil })
		return out
	}
	if w, g := xattrs(want), xattrs(got); !reflect.DeepEqual(w, g) {
		t.Errorf("xattrs read by path differ from those read by name:\n got %v\nwant %v", g, w)
	}
	n := 0
	_ = got.Walk(func(_ string, e *wim.Entry) error { n += len(e.Xattrs); return nil })
	if n == 0 {
		t.Error("no xattrs captured: the test tree should have some")
	}
}

// TestCaptureDirReplaced: a directory renamed away and replaced by a new
// one between the scan and the walk is skipped with a warning when the walk
// opens it again (keptDirs -1), not captured with the old one's names; with
// the scanner's descriptor it is captured as scanned, under its old name.
// Either way the walk keeps its place in the scan.
func TestCaptureDirReplaced(t *testing.T) {
	for _, kept := range []int{-1, 0} {
		src := t.TempDir()
		// b's subdirectories have scans of their own, which the walk must
		// pass over to reach c's.
		writeFiles(t, src, map[string]string{"a/f": "f", "b/g": "g", "b/s/t/u": "u", "b/v/w": "w", "c/h": "h", "c/d/i": "i"})
		var warns warnings
		opts := CaptureOptions{Warn: warns.add, keptDirs: kept}
		opts.beforeDir = func(path string) {
			if filepath.Base(path) != "b" {
				return
			}
			if err := os.Rename(path, filepath.Join(src, "b.old")); err != nil {
				t.Error(err)
			}
			if err := os.Mkdir(path, 0o755); err != nil {
				t.Error(err)
			}
		}
		m, st, err := Capture(t.Context(), src, newMemStore(), opts)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Join(names(m.Root), ",")
		if kept < 0 {
			if st.Skipped != 1 || len(warns.list) != 1 || !strings.Contains(warns.list[0], "replaced") || got != "a,c" {
				t.Errorf("reopened: stats %+v, warnings %q, root children %s; want b skipped as replaced", st, warns.list, got)
			}
		} else if st.Skipped != 0 || len(warns.list) != 0 || got != "a,b,c" || find(m.Root, "b/s/t/u") == nil {
			t.Errorf("kept: stats %+v, warnings %q, root children %s; want b whole", st, warns.list, got)
		}
		if find(m.Root, "c/h") == nil || find(m.Root, "c/d/i") == nil {
			t.Error("c/h or c/d/i missing: the walk lost its place in the scan")
		}
	}
}

// TestCaptureScanBounds: a directory with more entries than the scan's
// budget and more directories than its queue are captured whole.
func TestCaptureScanBounds(t *testing.T) {
	src := t.TempDir()
	wide := filepath.Join(src, "wide")
	if err := os.Mkdir(wide, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range scanBudgetEntries + 10 {
		f, err := os.Create(filepath.Join(wide, strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		must(t, f.Close())
	}
	for i := range scanQueue + 10 {
		must(t, os.MkdirAll(filepath.Join(src, "many", strconv.Itoa(i), "x"), 0o755))
	}
	m, st, err := Capture(t.Context(), src, newMemStore(), CaptureOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != scanBudgetEntries+10 || st.Dirs != 1+1+1+2*(scanQueue+10) {
		t.Errorf("stats %+v", st)
	}
	if got := len(find(m.Root, "many").Children); got != scanQueue+10 {
		t.Errorf("many holds %d directories", got)
	}
}

// TestCaptureScanAhead: the scanner's helpers list directories ahead of it
// in a tree both wide and deep, yet the walk gets every directory whole
// and in order, and the descriptors open at once stay within the depth
// plus what the helpers may hold.
func TestCaptureScanAhead(t *testing.T) {
	src := t.TempDir()
	const width, depth = 3 * scanAhead, 12
	for i := range width {
		deep := filepath.Join(src, fmt.Sprintf("d%03d", i))
		for range depth {
			deep = filepath.Join(deep, "sub")
		}
		writeFiles(t, src, map[string]string{
			filepath.Join(fmt.Sprintf("d%03d", i), "f"): "f",
			filepath.Join(deep[len(src)+1:], "leaf"):    strconv.Itoa(i),
		})
	}
	before := openFDs(t)
	most := 0
	const kept = 16
	opts := CaptureOptions{keptDirs: kept}
	opts.beforeDir = func(string) { most = max(most, openFDs(t)) }
	m, st, err := Capture(t.Context(), src, newMemStore(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if st.Dirs != 1+width*(1+depth) || st.Files != 2*width {
		t.Errorf("stats %+v, want %d directories and %d files", st, 1+width*(1+depth), 2*width)
	}
	for i, name := range names(m.Root) {
		if want := fmt.Sprintf("d%03d", i); name != want {
			t.Fatalf("root child %d is %s, want %s", i, name, want)
		}
		leaf := find(m.Root, name+strings.Repeat("/sub", depth)+"/leaf")
		if leaf == nil || leaf.Data.Size != int64(len(strconv.Itoa(i))) {
			t.Fatalf("%s: the leaf at depth %d is missing or wrong", name, depth)
		}
	}
	// The walk's own descriptors, the scanner's path down the tree, the
	// directories listed ahead, one each helper may be opening, and those
	// handed to the walk.
	if limit := before + 2*(depth+2) + scanAhead + scanHelpers + kept; most > limit {
		t.Errorf("%d descriptors open during the capture, more than %d", most, limit)
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d descriptors open after the capture, %d before", after, before)
	}
}

// TestScanBudgetWaitsForHalf: a scanner that finds the budget full waits
// until the walk has taken half of it, not just enough for its directory;
// a directory larger than the budget waits until nothing is waiting.
func TestScanBudgetWaitsForHalf(t *testing.T) {
	b := newScanBudget()
	if !b.take(scanBudgetEntries - 10) {
		t.Fatal("take on a fresh budget failed")
	}
	done := make(chan bool)
	go func() { done <- b.take(20) }()
	waitForTaker(t, b)
	b.give(scanBudgetEntries/2 - 20) // 20 fit now, but half is not free yet
	select {
	case <-done:
		t.Fatal("take returned before half the budget was free")
	case <-time.After(100 * time.Millisecond):
	}
	b.give(10)
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("take failed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("take still waits with half the budget free")
	}
	go func() { done <- b.take(scanBudgetEntries * 2) }()
	waitForTaker(t, b)
	b.give(scanBudgetEntries/2 + 10) // all but the 20
	select {
	case <-done:
		t.Fatal("a directory larger than the budget was let in beside others")
	case <-time.After(100 * time.Millisecond):
	}
	b.give(20)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a directory larger than the budget still waits with nothing else waiting")
	}
}

// waitForTaker waits until a take waits on b.
func waitForTaker(t *testing.T, b *scanBudget) {
	t.Helper()
	for range 1000 {
		b.mu.Lock()
		waiting := b.wakeAt >= 0
		b.mu.Unlock()
		if waiting {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("take did not wait")
}

// TestCaptureCancelDuringScan: a capture cancelled while the scanner is
// ahead ends with the context's error and leaves no descriptor open.
func TestCaptureCancelDuringScan(t *testing.T) {
	src := t.TempDir()
	for i := range 200 {
		writeFiles(t, src, map[string]string{filepath.Join(strconv.Itoa(i), "f"): "f"})
	}
	before := openFDs(t)
	ctx, cancel := context.WithCancel(t.Context())
	opts := CaptureOptions{}
	n := 0
	opts.beforeOpen = func(string) {
		if n++; n == 5 {
			cancel()
		}
	}
	_, _, err := Capture(ctx, src, newMemStore(), opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d descriptors open after the capture, %d before", after, before)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// TestCaptureDirVanished: a directory with subdirectories removed between
// the scan and the walk (a cache emptied during a nightly snapshot) is
// reported and skipped, and the capture goes on past it, whether the walk
// opens it again (keptDirs -1) or has the scanner's descriptor of it.
func TestCaptureDirVanished(t *testing.T) {
	for _, kept := range []int{-1, 0} {
		src := t.TempDir()
		writeFiles(t, src, map[string]string{"a/f": "f", "b/s/t/u": "u", "b/v/w": "w", "c/d/i": "i"})
		var warns warnings
		opts := CaptureOptions{Warn: warns.add, keptDirs: kept}
		opts.beforeDir = func(path string) {
			if filepath.Base(path) == "b" {
				must(t, os.RemoveAll(path))
			}
		}
		before := openFDs(t)
		m, st, err := Capture(t.Context(), src, newMemStore(), opts)
		if err != nil {
			t.Fatal(err)
		}
		if st.Skipped != 1 || len(warns.list) != 1 || !strings.Contains(warns.list[0], "open directory") {
			t.Errorf("keptDirs %d: stats %+v, warnings %q; want b skipped", kept, st, warns.list)
		}
		if got := strings.Join(names(m.Root), ","); got != "a,c" || find(m.Root, "c/d/i") == nil {
			t.Errorf("keptDirs %d: root children %s, c/d/i %v", kept, got, find(m.Root, "c/d/i") != nil)
		}
		if after := openFDs(t); after != before {
			t.Errorf("keptDirs %d: %d descriptors open after the capture, %d before", kept, after, before)
		}
	}
}

// TestCaptureXattrsOfOpenedFile: a file renamed over the one being read,
// between its open and the taking of its metadata, does not lend it its
// xattrs: contents and xattrs both come from the file opened. They came
// from the new file by name, so a binary could be captured with another's
// capabilities or ACL.
func TestCaptureXattrsOfOpenedFile(t *testing.T) {
	src := t.TempDir()
	prog := filepath.Join(src, "prog")
	writeFiles(t, src, map[string]string{"prog": "OLD contents"})
	if err := unix.Setxattr(prog, "user.v", []byte("old"), 0); err != nil {
		t.Skipf("no user xattrs here: %v", err)
	}
	opts := CaptureOptions{Warn: func(string, error) {}}
	opts.afterOpen = func(path string) {
		if filepath.Base(path) != "prog" {
			return
		}
		next := filepath.Join(src, ".prog.new")
		if err := os.WriteFile(next, []byte("NEW contents, longer"), 0o644); err != nil {
			t.Error(err)
		}
		if err := unix.Setxattr(next, "user.v", []byte("new"), 0); err != nil {
			t.Error(err)
		}
		if err := os.Rename(next, prog); err != nil {
			t.Error(err)
		}
	}
	sink := newMemStore()
	m, _, err := Capture(t.Context(), src, sink, opts)
	if err != nil {
		t.Fatal(err)
	}
	e := find(m.Root, "prog")
	if e == nil {
		t.Fatal("prog is not in the image")
	}
	var got string
	for _, x := range e.Xattrs {
		if x.Name == "user.v" {
			got = string(x.Value)
		}
	}
	if e.Data.Size != int64(len("OLD contents")) || got != "old" {
		t.Errorf("prog: %d bytes with user.v=%q, want the opened file's %d bytes and user.v=\"old\"", e.Data.Size, got, len("OLD contents"))
	}
}

// TestCaptureRotatedFile: a file replaced by another between the scan and
// its reading (a log rotated: a.log renamed away, a new a.log made) is
// captured as the file then at its name, with a warning, not dropped.
func TestCaptureRotatedFile(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"a.log": "old log lines\n", "b": "bbb"})
	var warns warnings
	opts := CaptureOptions{Warn: warns.add}
	opts.beforeOpen = func(path string) {
		if filepath.Base(path) != "a.log" {
			return
		}
		if err := os.Rename(path, path+".1"); err != nil {
			t.Error(err)
		}
		if err := os.WriteFile(path, []byte("new log\n"), 0o644); err != nil {
			t.Error(err)
		}
	}
	m, st, err := Capture(t.Context(), src, newMemStore(), opts)
	if err != nil {
		t.Fatal(err)
	}
	e := find(m.Root, "a.log")
	if e == nil || e.Data.Size != int64(len("new log\n")) {
		t.Fatalf("a.log: %+v, want the new file's %d bytes", e, len("new log\n"))
	}
	if st.Skipped != 0 || len(warns.list) != 1 || !strings.Contains(warns.list[0], "the new file is captured") {
		t.Errorf("skipped %d, warnings %q; want none skipped and one warning", st.Skipped, warns.list)
	}
}

// TestCaptureSwappedEntries: a directory replaced by a symlink, and a
// symlink replaced by a directory, between the scan and the walk are
// skipped with a warning that says what happened, not followed: the walk
// that opens the directory again finds it replaced (keptDirs -1), the one
// with the scanner's descriptor finds it removed.
func TestCaptureSwappedEntries(t *testing.T) {
	for _, kept := range []int{-1, 0} {
		src := t.TempDir()
		writeFiles(t, src, map[string]string{"d/x": "inside", "keep": "k"})
		must(t, os.Symlink("keep", filepath.Join(src, "l")))
		var warns warnings
		opts := CaptureOptions{Warn: warns.add, keptDirs: kept}
		opts.beforeDir = func(path string) {
			if filepath.Base(path) == "d" {
				must(t, os.RemoveAll(path))
				must(t, os.Symlink("/", path))
			}
		}
		opts.beforeOpen = func(path string) {
			if filepath.Base(path) == "l" {
				must(t, os.Remove(path))
				must(t, os.Mkdir(path, 0o755))
			}
		}
		m, _, err := Capture(t.Context(), src, newMemStore(), opts)
		if err != nil {
			t.Fatal(err)
		}
		joined := strings.Join(warns.list, "\n")
		replaced, removed := strings.Count(joined, "was replaced during capture"), strings.Count(joined, "was removed during capture")
		if kept < 0 && (replaced != 2 || removed != 0) || kept >= 0 && (replaced != 1 || removed != 1) || len(warns.list) != 2 {
			t.Errorf("keptDirs %d: warnings %q", kept, warns.list)
		}
		if got := strings.Join(names(m.Root), ","); got != "keep" {
			t.Errorf("keptDirs %d: root children %s, want keep", kept, got)
		}
	}
}

// TestCaptureLinkReplaced: when one name of a hard-linked file is
// replaced between the scan and its reading, that name is skipped and the
// other is captured whole; it was captured empty, joining the link group
// of the skipped name, which was forgotten under the new file's inode.
func TestCaptureLinkReplaced(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"a": "linked contents"})
	must(t, os.Link(filepath.Join(src, "a"), filepath.Join(src, "b")))
	opts := CaptureOptions{Warn: func(string, error) {}}
	opts.beforeOpen = func(path string) {
		if filepath.Base(path) == "a" {
			next := filepath.Join(src, ".a.new")
			must(t, os.WriteFile(next, []byte("a new file"), 0o644))
			must(t, os.Rename(next, path))
		}
	}
	m, st, err := Capture(t.Context(), src, newMemStore(), opts)
	if err != nil {
		t.Fatal(err)
	}
	b := find(m.Root, "b")
	if b == nil || b.Data.Size != int64(len("linked contents")) || st.Skipped != 1 {
		t.Fatalf("b: %+v, skipped %d; want b whole and a skipped", b, st.Skipped)
	}
}

// TestCaptureWrittenWhileRead: a file written in place while it is read,
// its size kept, is warned about (what was stored may be torn), not
// skipped; only its size was looked at again.
func TestCaptureWrittenWhileRead(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"db": "old contents"})
	var warns warnings
	opts := CaptureOptions{Warn: warns.add}
	opts.afterOpen = func(path string) {
		p := filepath.Join(src, "db")
		if err := os.WriteFile(p, []byte("new contents"), 0o644); err != nil {
			t.Error(err)
		}
		old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC) // a time another than the one at open
		if err := os.Chtimes(p, old, old); err != nil {
			t.Error(err)
		}
	}
	_, st, err := Capture(t.Context(), src, newMemStore(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if st.Skipped != 0 || len(warns.list) != 1 || !strings.Contains(warns.list[0], "written while it was read") {
		t.Errorf("stats %+v, warnings %q; want one warning, nothing skipped", st, warns.list)
	}
}

// TestCaptureEmptyFileVanished: an empty file deleted between the scan
// and its capture is skipped and counted, as a file that cannot be opened
// is; it was kept in the image, with only a warning about its xattrs.
func TestCaptureEmptyFileVanished(t *testing.T) {
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"empty": "", "full": "x"})
	var warns warnings
	opts := CaptureOptions{Warn: warns.add}
	opts.beforeOpen = func(path string) {
		if filepath.Base(path) == "empty" {
			if err := os.Remove(filepath.Join(src, "empty")); err != nil {
				t.Error(err)
			}
		}
	}
	m, st, err := Capture(t.Context(), src, newMemStore(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if st.Skipped != 1 || find(m.Root, "empty") != nil || len(warns.list) != 1 || !strings.Contains(warns.list[0], "no such file") {
		t.Errorf("stats %+v, in the image %v, warnings %q; want empty skipped and left out", st, find(m.Root, "empty") != nil, warns.list)
	}
}

// TestCaptureTimesOutOfRange: a time before 1601 (tmpfs keeps one) is
// stored as 1601, with a warning naming the file; it wrapped around to the
// year 60055. It needs to mount a tmpfs (root).
func TestCaptureTimesOutOfRange(t *testing.T) {
	src := t.TempDir()
	if err := unix.Mount("wimsnap-test", src, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(src, unix.MNT_DETACH); err != nil {
			t.Error(err)
		}
	})
	writeFiles(t, src, map[string]string{"old": "x", "new": "y"})
	old := time.Date(1600, 6, 1, 0, 0, 0, 0, time.UTC)
	ts := []unix.Timespec{{Sec: old.Unix()}, {Sec: old.Unix()}} // os.Chtimes goes through nanoseconds, which end at 1678
	must(t, unix.UtimesNano(filepath.Join(src, "old"), ts))
	var warnings []string
	m, st, err := Capture(t.Context(), src, newMemStore(), CaptureOptions{Warn: func(path string, err error) {
		warnings = append(warnings, path+": "+err.Error())
	}})
	if err != nil {
		t.Fatal(err)
	}
	if e := find(m.Root, "old"); e == nil || e.LastWriteTime != 0 || e.CreationTime != 0 {
		t.Errorf("old: %+v, want the times of 1601-01-01", e)
	}
	// One warning for the file, naming both its times.
	if len(warnings) != 1 || !strings.Contains(warnings[0], "old: out of the range of times a WIM holds (1601 to 60056): "+
		"modification time 1600-06-01T00:00:00Z, stored as 1601-01-01T00:00:00Z; access time 1600-06-01T00:00:00Z") ||
		st.Warnings != 1 {
		t.Errorf("warnings %q, stats %+v", warnings, st)
	}
}
