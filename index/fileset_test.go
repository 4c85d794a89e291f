package index

import (
	"fmt"
	"path/filepath"
	"testing"
)

// testSigs is a FileSigs with kept flags; paths are given sorted.
type testSigs struct {
	paths []string
	sigs  []Sig
	kept  []bool
}

func (l *testSigs) Len() int { return len(l.paths) }
func (l *testSigs) At(i int) ([]byte, Sig, bool) {
	if l.kept[i] {
		return []byte(l.paths[i]), Sig{}, true
	}
	return []byte(l.paths[i]), l.sigs[i], false
}

func (l *testSigs) add(path string, s Sig, kept bool) {
	l.paths = append(l.paths, path)
	l.sigs = append(l.sigs, s)
	l.kept = append(l.kept, kept)
}

// fileSetPath and fileSetSig are the i-th file of the sets below.
func fileSetPath(i int) string { return fmt.Sprintf("dir%03d/file%06d", i/97, i) }
func fileSetSig(i int) Sig     { return Sig{Size: int64(i), Ino: uint64(i) * 7, Dev: 3} }

// storeFileSet stores n files for snapshot snap of source "src".
func storeFileSet(t *testing.T, db *DB, n int, snap ID) {
	t.Helper()
	var l testSigs
	for i := range n {
		l.add(fileSetPath(i), fileSetSig(i), false)
	}
	b := NewBatch()
	b.SetFiles("src", snap, ID{}, &l)
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
}

// checkFileSet reports the files of "src" that differ from want (path ->
// signature) and any path of gone that is still there.
func checkFileSet(t *testing.T, db *DB, snap ID, want map[string]Sig, gone []string) {
	t.Helper()
	f := filesView(t, db, "src")
	if f.Snapshot != snap {
		t.Errorf("the set belongs to %x, want %x", f.Snapshot[:4], snap[:4])
	}
	for p, w := range want {
		if s, ok := f.Lookup([]byte(p)); !ok || s != w {
			t.Fatalf("%s: %+v %v, want %+v", p, s, ok, w)
		}
	}
	for _, p := range gone {
		if _, ok := f.Lookup([]byte(p)); ok {
			t.Errorf("%s is still in the set", p)
		}
	}
}

// TestFileSetUpdate: a new file set over its base's stored one puts only
// the signatures that changed or are new and deletes the paths that are
// gone, reading the stored set past several drops of its mapped pages;
// kept files keep their stored signatures.
func TestFileSetUpdate(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "idx.db"))
	db.keepMapped, db.dropEvery = 0, testDropEvery // drop pages however small the database, often
	n := 3*testDropEvery/seqRead + 17
	storeFileSet(t, db, n, id("a"))

	var l testSigs
	want := map[string]Sig{}
	var gone []string
	for i := range n {
		p, s := fileSetPath(i), fileSetSig(i)
		switch i % 1000 {
		case 1: // removed
			gone = append(gone, p)
			continue
		case 2: // changed
			s.CtimeNs++
			l.add(p, s, false)
		case 3: // not kept, but unchanged
			l.add(p, s, false)
		default:
			l.add(p, Sig{}, true)
		}
		want[p] = s
	}
	l.add("zzz", Sig{Size: 1}, false) // new, at the end
	want["zzz"] = Sig{Size: 1}

	fs := &fileSet{source: "src", snap: id("b"), base: id("a"), sigs: &l}
	diff, err := db.diffFiles([]byte("src"), fs)
	if err != nil {
		t.Fatal(err)
	}
	changed := (n + 997) / 1000 // i%1000 == 2 for i < n
	if diff.rewrite || len(diff.dels) != len(gone) || len(diff.puts) != changed+1 {
		t.Fatalf("rewrite %v, %d deletions (want %d), %d puts (want %d)",
			diff.rewrite, len(diff.dels), len(gone), len(diff.puts), changed+1)
	}
	b := NewBatch()
	b.SetFiles("src", id("b"), id("a"), &l)
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	checkFileSet(t, db, id("b"), want, gone)

	// The same again, all kept: nothing to write.
	var same testSigs
	for _, p := range l.paths {
		same.add(p, Sig{}, true)
	}
	diff, err = db.diffFiles([]byte("src"), &fileSet{source: "src", snap: id("c"), base: id("b"), sigs: &same})
	if err != nil || diff.rewrite || len(diff.dels)+len(diff.puts) != 0 {
		t.Fatalf("unchanged set: rewrite %v, %d deletions, %d puts (%v)", diff.rewrite, len(diff.dels), len(diff.puts), err)
	}
}

// TestFileSetOtherBase: when the stored set is not the base's (another
// snapshot recorded its own meanwhile), kept files are left out: their
// stored signatures may not be what the capture compared.
func TestFileSetOtherBase(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "idx.db"))
	storeFileSet(t, db, 10, id("other"))
	var l testSigs
	l.add(fileSetPath(0), Sig{}, true)
	l.add(fileSetPath(1), fileSetSig(1), false)
	b := NewBatch()
	b.SetFiles("src", id("b"), id("a"), &l)
	if err := db.Apply(b); err != nil {
		t.Fatal(err)
	}
	gone := []string{fileSetPath(0)}
	for i := 2; i < 10; i++ {
		gone = append(gone, fileSetPath(i))
	}
	checkFileSet(t, db, id("b"), map[string]Sig{fileSetPath(1): fileSetSig(1)}, gone)
}

// TestFileSetInterrupted: once putFiles has begun changing a set, the set
// belongs to no snapshot until Apply's last transaction names the new
// one, so a crash in between leaves signatures that no capture trusts.
func TestFileSetInterrupted(t *testing.T) {
	db := openTest(t, filepath.Join(t.TempDir(), "idx.db"))
	storeFileSet(t, db, 10, id("a"))
	var l testSigs
	for i := range 10 {
		s := fileSetSig(i)
		s.Size++
		l.add(fileSetPath(i), s, false)
	}
	if err := db.putFiles(&fileSet{source: "src", snap: id("b"), base: id("a"), sigs: &l}); err != nil {
		t.Fatal(err)
	}
	checkFileSet(t, db, ID{}, map[string]Sig{fileSetPath(3): l.sigs[3]}, nil)
}
