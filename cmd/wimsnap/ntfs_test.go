//go:build unix

package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/snapshot"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// requireNTFS skips the test, or fails it when the wimlib oracle is
// required, unless this machine can make and mount NTFS volumes: mkntfs and
// ntfs-3g (Debian ntfs-3g), /dev/fuse and root.
func requireNTFS(t *testing.T) {
	t.Helper()
	wimtest.Require(t, "wimlib-imagex")
	var missing []string
	for _, tool := range []string{"mkntfs", "ntfs-3g"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool+" (Debian ntfs-3g)")
		}
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		missing = append(missing, "/dev/fuse")
	}
	if os.Geteuid() != 0 {
		missing = append(missing, "root (to mount)")
	}
	if len(missing) == 0 {
		return
	}
	if strings.Contains(os.Getenv(wimtest.RequireEnv), "wimlib") {
		t.Fatalf("NTFS tests need %s, which the wimlib oracle set requires", strings.Join(missing, ", "))
	}
	t.Skipf("NTFS tests need %s", strings.Join(missing, ", "))
}

// ntfsVolume makes an empty NTFS volume image of 32 MiB.
func ntfsVolume(t *testing.T, dir string) string {
	t.Helper()
	img := filepath.Join(dir, "vol.img")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 32<<20); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mkntfs", "-F", "-Q", "-q", img).CombinedOutput(); err != nil {
		t.Fatalf("mkntfs: %v\n%s", err, out)
	}
	return img
}

// mountNTFS mounts img at mnt with ntfs-3g and returns the function that
// unmounts it (also run at cleanup if not called).
func mountNTFS(t *testing.T, img, mnt string, opts string) func() {
	t.Helper()
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("ntfs-3g", "-o", opts, img, mnt).CombinedOutput(); err != nil {
		t.Fatalf("ntfs-3g %s: %v\n%s", opts, err, out)
	}
	mounted := true
	umount := func() {
		if !mounted {
			return
		}
		mounted = false
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", mnt, err, out)
		}
	}
	t.Cleanup(umount)
	return umount
}

// sid returns a SID S-1-auth-subs...
func sid(auth byte, subs ...uint32) []byte {
	b := []byte{1, byte(len(subs)), 0, 0, 0, 0, 0, auth}
	for _, s := range subs {
		b = binary.LittleEndian.AppendUint32(b, s)
	}
	return b
}

// securityDescriptor returns a self-relative descriptor owned by BUILTIN\
// Administrators whose DACL allows mask to each of who.
func securityDescriptor(mask uint32, who ...[]byte) []byte {
	owner := sid(5, 32, 544)
	var aces []byte
	for _, s := range who {
		ace := []byte{0, 0, 0, 0} // ACCESS_ALLOWED, no flags, size below
		ace = binary.LittleEndian.AppendUint32(ace, mask)
		ace = append(ace, s...)
		binary.LittleEndian.PutUint16(ace[2:], uint16(len(ace)))
		aces = append(aces, ace...)
	}
	acl := []byte{2, 0, 0, 0}
	binary.LittleEndian.PutUint16(acl[2:], uint16(8+len(aces)))
	acl = binary.LittleEndian.AppendUint16(acl, uint16(len(who)))
	acl = append(acl, 0, 0)
	acl = append(acl, aces...)
	sd := []byte{1, 0, 0x04, 0x80}                                     // revision 1; DACL present, self-relative
	sd = binary.LittleEndian.AppendUint32(sd, 20)                      // owner
	sd = binary.LittleEndian.AppendUint32(sd, uint32(20+len(owner)))   // group
	sd = binary.LittleEndian.AppendUint32(sd, 0)                       // SACL
	sd = binary.LittleEndian.AppendUint32(sd, uint32(20+2*len(owner))) // DACL
	sd = append(sd, owner...)
	sd = append(sd, owner...)
	return append(sd, acl...)
}

// reparseBuffer returns a reparse buffer (header included) for a mount
// point (tag 0xA0000003) or a symlink (0xA000000C, flags 1: relative).
func reparseBuffer(tag uint32, target string) []byte {
	u := utf16.Encode([]rune(target))
	name := make([]byte, 0, 2*len(u))
	for _, c := range u {
		name = binary.LittleEndian.AppendUint16(name, c)
	}
	var body []byte
	if tag == 0xA0000003 {
		body = binary.LittleEndian.AppendUint16(nil, 0)
		body = binary.LittleEndian.AppendUint16(body, uint16(len(name)))
		body = binary.LittleEndian.AppendUint16(body, uint16(len(name)+2))
		body = binary.LittleEndian.AppendUint16(body, uint16(len(name)))
		body = append(append(append(body, name...), 0, 0), append(name, 0, 0)...)
	} else {
		body = binary.LittleEndian.AppendUint16(nil, 0)
		body = binary.LittleEndian.AppendUint16(body, uint16(len(name)))
		body = binary.LittleEndian.AppendUint16(body, uint16(len(name)))
		body = binary.LittleEndian.AppendUint16(body, uint16(len(name)))
		body = binary.LittleEndian.AppendUint32(body, 1)
		body = append(append(body, name...), name...)
	}
	buf := binary.LittleEndian.AppendUint32(nil, tag)
	buf = binary.LittleEndian.AppendUint16(buf, uint16(len(body)))
	buf = binary.LittleEndian.AppendUint16(buf, 0)
	return append(buf, body...)
}

// fillNTFSVolume writes files with distinct Windows metadata through the
// ntfs-3g mount mnt.
func fillNTFSVolume(t *testing.T, mnt string) {
	t.Helper()
	set := func(path, name string, value []byte) {
		t.Helper()
		if err := unix.Lsetxattr(filepath.Join(mnt, path), name, value, 0); err != nil {
			t.Fatalf("set %s on %s: %v", name, path, err)
		}
	}
	attr := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	everyone, users := sid(1, 0), sid(5, 32, 545)
	writeFile(t, mnt, "Program Files/App/app.exe", randomBytes(7, 200<<10))
	writeFile(t, mnt, "Program Files/App/readme.txt", []byte(strings.Repeat("read me ", 500)))
	writeFile(t, mnt, "Users/Public/LongDocumentName.docx", []byte("document"))
	writeFile(t, mnt, "Users/Public/empty.txt", nil)
	writeFile(t, mnt, "Users/Public/streams.txt", []byte("main data"))
	writeFile(t, mnt, "Windows/System32/drivers/etc/hosts", []byte("127.0.0.1 localhost\r\n"))
	writeFile(t, mnt, "Ünïcødé 名前/file.txt", []byte("unicode"))
	if err := os.Link(filepath.Join(mnt, "Program Files/App/app.exe"), filepath.Join(mnt, "Program Files/App/app-link.exe")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("readme.txt", filepath.Join(mnt, "Program Files/App/interix-link")); err != nil {
		t.Fatal(err)
	}
	set("Program Files/App/app.exe", "system.ntfs_acl", securityDescriptor(0x1200A9, everyone))
	set("Program Files/App/readme.txt", "system.ntfs_acl", securityDescriptor(0x1F01FF, everyone, users))
	set("Users/Public/streams.txt", "system.ntfs_acl", securityDescriptor(0x1F01FF, everyone, users))
	set("Users/Public", "system.ntfs_acl", securityDescriptor(0x1301BF, users))
	set("Users/Public/LongDocumentName.docx", "system.ntfs_dos_name", []byte("LONGDO~1.DOC"))
	set("Users/Public/streams.txt", "user.Zone.Identifier", []byte("[ZoneTransfer]\r\nZoneId=3\r\n"))
	set("Users/Public/streams.txt", "user.empty", nil)
	set("Windows/System32/drivers/etc/hosts", "system.ntfs_attrib", attr(0x1|0x2|0x20))
	set("Program Files/App/readme.txt", "system.ntfs_attrib", attr(0x4|0x20))
	set("Users/Public/LongDocumentName.docx", "system.ntfs_object_id", []byte("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"))
	for _, d := range []string{"Documents and Settings", "Windows/System32/linked"} {
		if err := os.Mkdir(filepath.Join(mnt, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, mnt, "Windows/System32/rel-link", nil)
	// A compressed folder, whose file inherits the attribute.
	if err := os.Mkdir(filepath.Join(mnt, "Compressed"), 0o755); err != nil {
		t.Fatal(err)
	}
	set("Compressed", "system.ntfs_attrib", attr(0x10|0x800))
	writeFile(t, mnt, "Compressed/log.txt", []byte(strings.Repeat("a log line\r\n", 3000)))
	// A junction to another volume and a relative symlink: ntfs-3g cannot
	// show either (stat fails), but their reparse data is readable.
	set("Documents and Settings", "system.ntfs_reparse_data", reparseBuffer(0xA0000003, `\??\D:\Users`))
	set("Windows/System32/rel-link", "system.ntfs_reparse_data", reparseBuffer(0xA000000C, `..\nowhere.txt`))
}

// filledNTFSVolume makes an NTFS volume image filled by fillNTFSVolume
// and returns its directory, the image and a mount point for it.
func filledNTFSVolume(t *testing.T) (dir, img, mnt string) {
	t.Helper()
	requireNTFS(t)
	dir = t.TempDir()
	img = ntfsVolume(t, dir)
	mnt = filepath.Join(dir, "mnt")
	umount := mountNTFS(t, img, mnt, "rw")
	fillNTFSVolume(t, mnt)
	umount()
	return dir, img, mnt
}

// detailed returns wimlib-imagex's detailed listing of image 1 of path,
// without the lines that depend on the WIM's layout (offsets, compressed
// sizes, resource flags, reference counts, link group numbers).
func detailed(t *testing.T, path string) string {
	t.Helper()
	var keep []string
	for _, line := range strings.Split(wimtest.Wimlib(t, "dir", path, "1", "--detailed"), "\n") {
		switch {
		case strings.HasPrefix(line, "Offset in WIM"), strings.HasPrefix(line, "Compressed size"),
			strings.HasPrefix(line, "Part Number"), strings.HasPrefix(line, "Reference Count"),
			strings.HasPrefix(line, "Link Group ID"), strings.HasPrefix(line, "Flags  "):
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}

// TestNTFSCapture: an NTFS volume filled through ntfs-3g with distinct
// security descriptors, named streams, short names, attributes, hard
// links, an ntfs-3g symlink and reparse points, captured by wimsnap through
// a read-only ntfs-3g mount, gives the same metadata as wimlib-imagex's
// capture of the volume image in its NTFS mode: every line of
// `wimlib-imagex dir --detailed` but WIM layout details is equal.
func TestNTFSCapture(t *testing.T) {
	dir, img, mnt := filledNTFSVolume(t)

	theirs := filepath.Join(dir, "wimlib.wim")
	wimtest.Wimlib(t, "capture", img, theirs)
	ours := filepath.Join(dir, "ours.wim")
	umount := mountNTFS(t, img, mnt, "ro,noatime")
	code, stdout, errb := runApp(t, nil, "capture", mnt, ours, "--json")
	umount()
	if code != exitOK {
		t.Fatalf("capture: exit %d: %s\n%s", code, errb, stdout)
	}
	if !strings.Contains(stdout, `"warnings": []`) {
		t.Errorf("capture warned:\n%s", stdout)
	}
	wimtest.Wimlib(t, "verify", ours)
	want, got := detailed(t, theirs), detailed(t, ours)
	sameListing(t, "capture", want, got)
	for _, s := range []string{"Short Name          = \"LONGDO~1.DOC\"", "Named data stream \"Zone.Identifier\"", "Reparse Tag         = 0xa0000003",
		"Object ID           = 0x000102030405060708090a0b0c0d0e0f"} {
		if !strings.Contains(got, s) {
			t.Errorf("listing lacks %q: the volume was not filled as meant", s)
		}
	}
}

// sameListing fails the test at the first line where two detailed
// listings differ.
func sameListing(t *testing.T, what, want, got string) {
	t.Helper()
	if got == want {
		return
	}
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(wl), len(gl)) {
		w, g := "", ""
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			t.Fatalf("%s: wimlib dir --detailed differs at line %d:\nwimlib: %.300s\nours:   %.300s", what, i+1, w, g)
		}
	}
}

// TestNTFSApply: the image TestNTFSCapture's volume gives, applied by
// wimlib-imagex to a fresh NTFS volume image in its NTFS mode and by
// wimsnap through ntfs-3g to another, reads back the same: wimlib's NTFS
// captures of the two volumes list identically.
func TestNTFSApply(t *testing.T) {
	dir, src, mnt := filledNTFSVolume(t)
	image := filepath.Join(dir, "image.wim")
	wimtest.Wimlib(t, "capture", src, image, "--compress=xpress")

	byWimlib, byUs := ntfsVolume(t, filepath.Join(dir, "a")), ntfsVolume(t, filepath.Join(dir, "b"))
	wimtest.Wimlib(t, "apply", image, "1", byWimlib)
	umount := mountNTFS(t, byUs, mnt, "rw")
	code, stdout, errb := runApp(t, nil, "apply", image, "1", mnt, "--json")
	umount()
	if code != exitOK {
		t.Fatalf("apply: exit %d: %s\n%s", code, errb, stdout)
	}
	if !strings.Contains(stdout, `"warnings": []`) {
		t.Errorf("apply warned:\n%s", stdout)
	}
	listings := readBack(t, dir, byWimlib, byUs)
	sameListing(t, "apply", listings["wimlib"], listings["wimsnap"])
	if !strings.Contains(listings["wimsnap"], "LONGDO~1.DOC") {
		t.Error("the applied volume lacks the short name: the listing compares too little")
	}
}

// readBack captures with wimlib the NTFS volumes that wimlib and wimsnap
// applied to and returns the detailed listings of the two WIMs, by
// "wimlib" and "wimsnap".
func readBack(t *testing.T, dir, byWimlib, byUs string) map[string]string {
	t.Helper()
	listings := map[string]string{}
	for name, vol := range map[string]string{"wimlib": byWimlib, "wimsnap": byUs} {
		w := filepath.Join(dir, name+"-readback.wim")
		wimtest.Wimlib(t, "capture", vol, w)
		listings[name] = detailed(t, w)
	}
	return listings
}

// TestNTFSApplyLinksAndZeros: through ntfs-3g, files with further names
// in other directories and a file of zeros get the image's attributes and
// times, as wimlib's NTFS apply gives them: a name added after the file's
// metadata made ntfs-3g set ARCHIVE, and the holes left for zero blocks
// made the file SPARSE, which the image's attributes could not clear.
func TestNTFSApplyLinksAndZeros(t *testing.T) {
	requireNTFS(t)
	dir := t.TempDir()
	src, mnt := filepath.Join(dir, "src"), filepath.Join(dir, "mnt")
	for i := range 8 {
		name := fmt.Sprintf("f%d.txt", i)
		writeFile(t, filepath.Join(src, "d1"), name, []byte(name))
		must(t, os.Link(filepath.Join(src, "d1", name), filepath.Join(src, "h"+name)))
	}
	writeFile(t, src, "zeros.bin", make([]byte, 1<<20))
	image := filepath.Join(dir, "image.wim")
	wimtest.Wimlib(t, "capture", src, image)
	byWimlib, byUs := ntfsVolume(t, filepath.Join(dir, "a")), ntfsVolume(t, filepath.Join(dir, "b"))
	wimtest.Wimlib(t, "apply", image, "1", byWimlib)
	umount := mountNTFS(t, byUs, mnt, "rw")
	code, _, errb := runApp(t, nil, "apply", image, "1", mnt)
	umount()
	if code != exitOK {
		t.Fatalf("apply: exit %d: %s", code, errb)
	}
	listings := readBack(t, dir, byWimlib, byUs)
	sameListing(t, "apply", listings["wimlib"], listings["wimsnap"])
}

// TestNTFSRollback: a volume snapshot through ntfs-3g, then changed (a
// file rewritten, one with a DOS name rewritten, a descriptor, attributes
// and named streams changed, a file added), is rolled back in place with
// restore --delete: wimlib's NTFS capture of the volume lists as before
// the changes, and the files left alone are counted unchanged.
func TestNTFSRollback(t *testing.T) {
	dir, img, mnt := filledNTFSVolume(t)
	// A file without ARCHIVE, which the rollback rewrites: ntfs-3g sets
	// ARCHIVE on the rename, and the rollback left it.
	umount := mountNTFS(t, img, mnt, "rw")
	must(t, unix.Setxattr(filepath.Join(mnt, "Ünïcødé 名前/file.txt"), "system.ntfs_attrib", []byte{0x02, 0, 0, 0}, 0))
	umount()
	before := filepath.Join(dir, "before.wim")
	wimtest.Wimlib(t, "capture", img, before)

	env := map[string]string{envRepository: filepath.Join(dir, "repo"), envCacheDir: filepath.Join(dir, "cache")}
	if code, _, errb := runApp(t, env, "init"); code != exitOK {
		t.Fatalf("init: exit %d: %s", code, errb)
	}
	umount = mountNTFS(t, img, mnt, "rw,noatime")
	if code, out, errb := runApp(t, env, "snapshot", mnt, "--json"); code != exitOK || !strings.Contains(out, `"warnings": []`) {
		t.Fatalf("snapshot: exit %d: %s\n%s", code, errb, out)
	}
	writeFile(t, mnt, "Ünïcødé 名前/file.txt", []byte("changed"))
	writeFile(t, mnt, "Users/Public/LongDocumentName.docx", []byte("a rewritten document"))
	writeFile(t, mnt, "Users/Public/extra.txt", []byte("not in the snapshot"))
	for _, c := range []struct {
		path, name string
		value      []byte
	}{
		{"Program Files/App/app.exe", "system.ntfs_acl", securityDescriptor(0x1F01FF, sid(5, 32, 545))},
		{"Windows/System32/drivers/etc/hosts", "system.ntfs_attrib", []byte{0x20, 0, 0, 0}},
		{"Windows/System32/drivers/etc/hosts", "user.added", []byte("a stream the image lacks")},
	} {
		if err := unix.Lsetxattr(filepath.Join(mnt, c.path), c.name, c.value, 0); err != nil {
			t.Fatalf("change %s of %s: %v", c.name, c.path, err)
		}
	}
	if err := unix.Lremovexattr(filepath.Join(mnt, "Users/Public/streams.txt"), "user.Zone.Identifier"); err != nil {
		t.Fatal(err)
	}
	code, out, errb := runApp(t, env, "restore", "latest", "--target", mnt, "--delete", "--json")
	umount()
	if code != exitOK || !strings.Contains(out, `"warnings": []`) {
		t.Fatalf("restore: exit %d: %s\n%s", code, errb, out)
	}
	if !strings.Contains(out, `"unchanged": `) || strings.Contains(out, `"unchanged": 0,`) {
		t.Errorf("the rollback kept no file unchanged:\n%s", out)
	}
	t.Logf("restore: %s", out)
	after := filepath.Join(dir, "after.wim")
	wimtest.Wimlib(t, "capture", img, after)
	sameListing(t, "rollback", detailed(t, before), detailed(t, after))
}

// TestNTFSLinkDOSName: ntfs-3g hides the DOS name of a hard-linked file
// (EMLINK); the capture says so once and goes on.
func TestNTFSLinkDOSName(t *testing.T) {
	requireNTFS(t)
	dir := t.TempDir()
	img := ntfsVolume(t, dir)
	mnt := filepath.Join(dir, "mnt")
	umount := mountNTFS(t, img, mnt, "rw")
	writeFile(t, mnt, "LongNameFile.txt", []byte("x"))
	if err := unix.Lsetxattr(filepath.Join(mnt, "LongNameFile.txt"), "system.ntfs_dos_name", []byte("LONGNA~1.TXT"), 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(mnt, "LongNameFile.txt"), filepath.Join(mnt, "second.txt")); err != nil {
		t.Fatal(err)
	}
	code, out, errb := runApp(t, nil, "capture", mnt, filepath.Join(dir, "t.wim"), "--json")
	umount()
	if code != exitOK {
		t.Fatalf("capture: exit %d: %s", code, errb)
	}
	if n := strings.Count(out, "DOS name of a file with several hard links"); n != 1 {
		t.Errorf("%d warnings about the hidden DOS name, want 1:\n%s", n, out)
	}
}

// TestNTFSForcedElsewhere: --ntfs on a tree that is not an ntfs-3g mount
// is refused with a message saying so, and --no-ntfs is accepted.
func TestNTFSForcedElsewhere(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "src/a", []byte("a"))
	code, _, errb := runApp(t, nil, "capture", filepath.Join(dir, "src"), filepath.Join(dir, "t.wim"), "--ntfs")
	if code == exitOK || !strings.Contains(errb, snapshot.ErrNotNTFS.Error()) {
		t.Errorf("--ntfs off NTFS: exit %d, %q", code, errb)
	}
	if _, err := os.Stat(filepath.Join(dir, "t.wim")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused capture left a WIM: %v", err)
	}
	if code, _, errb := runApp(t, nil, "capture", filepath.Join(dir, "src"), filepath.Join(dir, "t.wim"), "--no-ntfs"); code != exitOK {
		t.Errorf("--no-ntfs: exit %d: %s", code, errb)
	}
	code, _, errb = runApp(t, nil, "apply", filepath.Join(dir, "t.wim"), filepath.Join(dir, "out"), "--ntfs")
	if code == exitOK || !strings.Contains(errb, snapshot.ErrNotNTFS.Error()) {
		t.Errorf("apply --ntfs off NTFS: exit %d, %q", code, errb)
	}
}

// TestNTFSLargeStreams: ntfs-3g shows named streams as xattrs only up to
// the kernel's 64 KiB. A capture keeps every stream it can read, one of
// exactly 64 KiB included, and names the one it cannot, with the partial
// exit code; before, one such stream dropped all of the file's streams
// and the capture exited 0.
func TestNTFSLargeStreams(t *testing.T) {
	requireNTFS(t)
	dir := t.TempDir()
	img := ntfsVolume(t, dir)
	mnt := filepath.Join(dir, "mnt")
	umount := mountNTFS(t, img, mnt, "rw,streams_interface=windows") // "file:stream" paths write any size
	writeFile(t, mnt, "f.txt", []byte("base"))
	writeFile(t, mnt, "f.txt:small", []byte("hello"))
	writeFile(t, mnt, "f.txt:big", make([]byte, 100000))
	writeFile(t, mnt, "g.txt", []byte("base"))
	writeFile(t, mnt, "g.txt:max", make([]byte, 1<<16))
	umount()
	umount = mountNTFS(t, img, mnt, "ro")
	w := filepath.Join(dir, "t.wim")
	code, out, errb := runApp(t, nil, "capture", mnt, w, "--json")
	umount()
	if code != exitPartial || !strings.Contains(out, "over 64 KiB") {
		t.Fatalf("capture: exit %d, want %d and the big stream named: %s\n%s", code, exitPartial, errb, out)
	}
	listing := detailed(t, w)
	for _, s := range []string{`Named data stream "small"`, `Named data stream "max"`} {
		if !strings.Contains(listing, s) {
			t.Errorf("the WIM lacks %s:\n%s", s, listing)
		}
	}
	if strings.Contains(listing, `"big"`) {
		t.Error("the WIM holds the stream that could not be read")
	}

	// wimlib reads the volume image itself and keeps the big stream; an
	// apply through ntfs-3g writes the others and exits partial.
	theirs := filepath.Join(dir, "wimlib.wim")
	wimtest.Wimlib(t, "capture", img, theirs)
	target := ntfsVolume(t, filepath.Join(dir, "target"))
	umount = mountNTFS(t, target, mnt, "rw")
	code, out, errb = runApp(t, nil, "apply", theirs, "1", mnt, "--json")
	small, serr := unix.Getxattr(filepath.Join(mnt, "f.txt"), "user.small", make([]byte, 16))
	umount()
	if code != exitPartial || !strings.Contains(out, `named stream \"big\" not written`) || serr != nil || small != 5 {
		t.Errorf("apply: exit %d, want %d with the big stream named and the small one written (%d, %v): %s\n%s",
			code, exitPartial, small, serr, errb, out)
	}

	// A rollback keeps the big stream, which its snapshot could not hold,
	// and warns about it (a warning about metadata: exit 0); it deleted it
	// without a word.
	env := ntfsRepoEnv(t, dir)
	umount = mountNTFS(t, img, mnt, "rw")
	if code, _, errb := runApp(t, env, "snapshot", mnt); code != exitPartial {
		t.Fatalf("snapshot: exit %d, want %d: %s", code, exitPartial, errb)
	}
	code, out, errb = runApp(t, env, "restore", "latest", "--target", mnt, "--json")
	names := make([]byte, 4096)
	n, lerr := unix.Listxattr(filepath.Join(mnt, "f.txt"), names)
	if code != exitOK || !strings.Contains(out, `named stream \"big\" kept`) || lerr != nil ||
		!bytes.Contains(names[:n], []byte("user.big\x00")) {
		t.Errorf("rollback: exit %d, streams %q (%v); want %d, user.big kept and named: %s\n%s",
			code, names[:n], lerr, exitOK, errb, out)
	}
	// A rollback that replaces the file (its data changed) says that the
	// stream goes with it; it said nothing.
	writeFile(t, mnt, "f.txt", []byte("changed"))
	code, out, errb = runApp(t, env, "restore", "latest", "--target", mnt, "--json")
	umount()
	if code != exitOK || !strings.Contains(out, `named stream \"big\" of the file replaced is lost`) {
		t.Errorf("rollback replacing the file: exit %d; want %d and the big stream named: %s\n%s", code, exitOK, errb, out)
	}
}

// TestNTFSSwappedDOSNames: a rollback after two files swapped their DOS
// names gives each its own back; each name is held by the other file
// when first set.
func TestNTFSSwappedDOSNames(t *testing.T) {
	requireNTFS(t)
	dir := t.TempDir()
	img := ntfsVolume(t, dir)
	mnt := filepath.Join(dir, "mnt")
	a, b := "Long Name A.txt", "Long Name B.txt"
	dos := func(name, short string) {
		t.Helper()
		if err := unix.Lsetxattr(filepath.Join(mnt, name), "system.ntfs_dos_name", []byte(short), 0); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	get := func(name string) string {
		buf := make([]byte, 64)
		n, _ := unix.Lgetxattr(filepath.Join(mnt, name), "system.ntfs_dos_name", buf)
		return string(buf[:max(n, 0)])
	}
	env := map[string]string{envRepository: filepath.Join(dir, "repo"), envCacheDir: filepath.Join(dir, "cache")}
	if code, _, errb := runApp(t, env, "init"); code != exitOK {
		t.Fatalf("init: exit %d: %s", code, errb)
	}
	umount := mountNTFS(t, img, mnt, "rw")
	writeFile(t, mnt, a, []byte("a"))
	writeFile(t, mnt, b, []byte("b"))
	dos(a, "LONGNA~1.TXT")
	dos(b, "LONGNA~2.TXT")
	if code, out, errb := runApp(t, env, "snapshot", mnt, "--json"); code != exitOK {
		t.Fatalf("snapshot: exit %d: %s\n%s", code, errb, out)
	}
	dos(a, "LONGNA~3.TXT")
	dos(b, "LONGNA~1.TXT")
	dos(a, "LONGNA~2.TXT")
	code, out, errb := runApp(t, env, "restore", "latest", "--target", mnt, "--delete", "--json")
	gotA, gotB := get(a), get(b)
	umount()
	if code != exitOK || !strings.Contains(out, `"warnings": []`) || gotA != "LONGNA~1.TXT" || gotB != "LONGNA~2.TXT" {
		t.Errorf("rollback: exit %d, DOS names %q and %q, want LONGNA~1.TXT and LONGNA~2.TXT: %s\n%s", code, gotA, gotB, errb, out)
	}
}

// mountedNTFSVolume makes a new volume in a test directory, which it
// returns, and mounts it there with opts at the mount point it returns.
func mountedNTFSVolume(t *testing.T, opts string) (dir, mnt string, umount func()) {
	t.Helper()
	requireNTFS(t)
	dir = t.TempDir()
	mnt = filepath.Join(dir, "mnt")
	return dir, mnt, mountNTFS(t, ntfsVolume(t, dir), mnt, opts)
}

// ntfsRepoEnv returns the environment of commands on a new repository in
// dir.
func ntfsRepoEnv(t *testing.T, dir string) map[string]string {
	t.Helper()
	env := map[string]string{envRepository: filepath.Join(dir, "repo"), envCacheDir: filepath.Join(dir, "cache"),
		"HOME": filepath.Join(dir, "home")}
	runAppOK(t, env, "init")
	return env
}

// TestNTFSRollbackKeepsDOSNamed: a rollback over an unchanged volume keeps
// a file with a DOS name, which ntfs-3g counts as a second link: it took
// the file for one with names the image lacks and rewrote it at every run.
func TestNTFSRollbackKeepsDOSNamed(t *testing.T) {
	dir, mnt, umount := mountedNTFSVolume(t, "rw,noatime")
	writeFile(t, mnt, "Long File One.txt", []byte("one"))
	must(t, unix.Setxattr(filepath.Join(mnt, "Long File One.txt"), "system.ntfs_dos_name", []byte("LONGFI~1.TXT"), 0))
	writeFile(t, mnt, "plain.txt", []byte("two"))
	env := ntfsRepoEnv(t, dir)
	runAppOK(t, env, "snapshot", mnt)
	var st unix.Stat_t
	must(t, unix.Stat(filepath.Join(mnt, "Long File One.txt"), &st))
	out := runAppOK(t, env, "restore", "latest", "--target", mnt, "--json")
	var sum struct{ Files, Unchanged int }
	must(t, json.Unmarshal([]byte(out), &sum))
	var after unix.Stat_t
	must(t, unix.Stat(filepath.Join(mnt, "Long File One.txt"), &after))
	umount()
	if sum.Files != 2 || sum.Unchanged != 2 || after.Ino != st.Ino {
		t.Errorf("rollback of an unchanged volume: %d files, %d unchanged, inode %d -> %d (nlink %d); want all kept",
			sum.Files, sum.Unchanged, st.Ino, after.Ino, st.Nlink)
	}
}

// TestNTFSRollbackReparse: a rollback keeps the reparse points that are
// as the snapshot has them (it rewrote every one at every run), and puts
// back a junction where a directory took its place, with --delete (it
// warned that a directory is kept "a restore replaces one only with
// --delete", --delete given).
func TestNTFSRollbackReparse(t *testing.T) {
	dir, mnt, umount := mountedNTFSVolume(t, "rw,noatime")
	writeFile(t, mnt, "target/t.txt", []byte("t"))
	writeFile(t, mnt, "plain.txt", []byte("plain"))
	must(t, os.Symlink("plain.txt", filepath.Join(mnt, "lnk")))
	must(t, os.Mkdir(filepath.Join(mnt, "j"), 0o755))
	junction := []byte("\x03\x00\x00\xa0\x40\x00\x00\x00\x00\x00\x1a\x00\x1c\x00\x1a\x00")
	for _, s := range []string{`\??\C:\target`, `\??\C:\target`} {
		for _, u := range utf16.Encode([]rune(s)) {
			junction = binary.LittleEndian.AppendUint16(junction, u)
		}
		junction = append(junction, 0, 0)
	}
	must(t, unix.Setxattr(filepath.Join(mnt, "j"), "system.ntfs_reparse_data", junction, 0))
	env := ntfsRepoEnv(t, dir)
	runAppOK(t, env, "snapshot", mnt)
	var st unix.Stat_t
	must(t, unix.Lstat(filepath.Join(mnt, "lnk"), &st))
	type summary struct{ Files, Symlinks, Unchanged, Deleted int }
	restore := func(args ...string) summary {
		t.Helper()
		var sum summary
		must(t, json.Unmarshal([]byte(runAppOK(t, env, append([]string{"restore", "latest", "--target", mnt, "--json"}, args...)...)), &sum))
		return sum
	}
	for _, dry := range []bool{true, false} { // the dry run counts as the rollback
		var args []string
		if dry {
			args = []string{"--dry-run"}
		}
		sum := restore(args...)
		var after unix.Stat_t
		must(t, unix.Lstat(filepath.Join(mnt, "lnk"), &after))
		if sum.Unchanged != sum.Files+sum.Symlinks || sum.Symlinks != 1 || after.Ino != st.Ino { // lnk is an Interix link: a file
			t.Errorf("rollback (dry run %v) of an unchanged volume: %+v, lnk's inode %d -> %d; want all kept", dry, sum, st.Ino, after.Ino)
		}
	}
	// An Interix link put back is found as one by the next rollback: the
	// kernel, which held the file written, failed its lookups (EIO), and
	// every rollback wrote it again.
	must(t, os.Remove(filepath.Join(mnt, "lnk")))
	writeFile(t, mnt, "lnk", []byte("not a link"))
	if sum := restore(); sum.Unchanged != sum.Files+sum.Symlinks-1 {
		t.Errorf("rollback over a file where the Interix link was: %+v; want it alone written", sum)
	}
	if sum := restore(); sum.Unchanged != sum.Files+sum.Symlinks {
		t.Errorf("the rollback after it: %+v; want all kept", sum)
	}
	if target, err := os.Readlink(filepath.Join(mnt, "lnk")); err != nil || target != "plain.txt" {
		t.Errorf("lnk put back: %q, %v", target, err)
	}
	must(t, os.Remove(filepath.Join(mnt, "j")))
	writeFile(t, mnt, "j/in-the-way.txt", []byte("x"))
	code, out, errb := runApp(t, env, "restore", "latest", "--target", mnt, "--delete", "--json")
	got := make([]byte, 256)
	n, gerr := unix.Lgetxattr(filepath.Join(mnt, "j"), "system.ntfs_reparse_data", got)
	umount()
	if code != exitOK || gerr != nil || !bytes.Equal(got[:max(n, 0)], junction) {
		t.Errorf("rollback --delete over a directory where the junction was: exit %d, reparse data %x (%v); want the junction: %s\n%s",
			code, got[:max(n, 0)], gerr, errb, out)
	}
}

// TestNTFSApplyUnixImage: an image captured with UNIX data keeps its
// owners, modes and xattrs when applied or restored onto an ntfs-3g mount
// (they were dropped, silently, for Windows metadata it does not have);
// --ntfs still writes Windows metadata.
func TestNTFSApplyUnixImage(t *testing.T) {
	requireNTFS(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, src, "f", []byte("data\n"))
	f := filepath.Join(src, "f")
	must(t, unix.Setxattr(f, "user.k", []byte("v"), 0))
	must(t, os.Chmod(f, 0o600))
	must(t, os.Chown(f, 2000, 2001))
	image := filepath.Join(dir, "unix.wim")
	runAppOK(t, nil, "capture", src, image)
	env := testRepoEnv(t)
	runAppOK(t, env, "snapshot", src)

	mnt := filepath.Join(dir, "mnt")
	// permissions: ntfs-3g keeps owners and modes (in ACLs); without it
	// every file is root's and 777, whatever is set.
	umount := mountNTFS(t, ntfsVolume(t, filepath.Join(dir, "vol")), mnt, "rw,permissions")
	defer umount()
	runAppOK(t, nil, "apply", image, filepath.Join(mnt, "applied"))
	runAppOK(t, env, "restore", "latest", "--target", filepath.Join(mnt, "restored"))
	for _, out := range []string{"applied", "restored"} {
		var st unix.Stat_t
		got := filepath.Join(mnt, out, "f")
		must(t, unix.Stat(got, &st))
		buf := make([]byte, 8)
		n, err := unix.Getxattr(got, "user.k", buf)
		if st.Mode&0o7777 != 0o600 || st.Uid != 2000 || st.Gid != 2001 || err != nil || string(buf[:n]) != "v" {
			t.Errorf("%s: mode %o, owner %d:%d, user.k %q (%v); want 600, 2000:2001, \"v\"", out, st.Mode&0o7777, st.Uid, st.Gid, buf[:max(n, 0)], err)
		}
	}
	runAppOK(t, nil, "apply", image, filepath.Join(mnt, "forced"), "--ntfs")
	if _, err := unix.Getxattr(filepath.Join(mnt, "forced", "f"), "user.k", nil); err == nil {
		t.Error("--ntfs: the file has the image's UNIX xattr, want Windows metadata only")
	}
}

// TestNTFSApplySymlinkAtOnce: a symbolic link applied through ntfs-3g
// (a reparse point) can be read as soon as apply exits; the first access
// failed with EIO, FUSE having cached the file it was made as.
func TestNTFSApplySymlinkAtOnce(t *testing.T) {
	requireNTFS(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, src, "target", []byte("t\n"))
	must(t, os.Symlink("target", filepath.Join(src, "rel")))
	must(t, os.Mkdir(filepath.Join(src, "d"), 0o755))
	must(t, os.Symlink("../target", filepath.Join(src, "d", "up")))
	image := filepath.Join(dir, "links.wim")
	runAppOK(t, nil, "capture", src, image)
	mnt := filepath.Join(dir, "mnt")
	umount := mountNTFS(t, ntfsVolume(t, filepath.Join(dir, "vol")), mnt, "rw")
	defer umount()
	runAppOK(t, nil, "apply", image, filepath.Join(mnt, "out"), "--ntfs")
	for _, link := range []string{"rel", "d/up"} {
		if _, err := os.Lstat(filepath.Join(mnt, "out", link)); err != nil {
			t.Errorf("%s right after apply: %v", link, err)
		}
	}
}
