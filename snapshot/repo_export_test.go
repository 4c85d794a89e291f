//go:build unix

package snapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// TestExportNames: an image name used twice gets the snapshot's short id
// appended, so each image is selectable by name; unnamed images (imported
// from a WIM whose images have no NAME) stay unnamed, as wimlib-imagex
// export leaves them, rather than becoming " (id)".
func TestExportNames(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	writeFiles(t, src, map[string]string{"a.txt": "a"})
	r := testRepo(t, wim.CompressXPRESS)
	m := snapshotOK(t, r, src, TakeOptions{Image: ImageFields{Name: "golden"}}).Manifest
	unnamed := *m
	unnamed.Image.Name = ""
	x := filepath.Join(tmp, "x.wim")
	if _, err := r.Export(t.Context(), []*Manifest{m, m, &unnamed, &unnamed}, x, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range wimtest.Open(t, x).Images() {
		got = append(got, in.Name)
	}
	if want := []string{"golden", "golden (" + m.ShortID() + ")", "", ""}; !slices.Equal(got, want) {
		t.Errorf("exported image names %q, want %q", got, want)
	}

	// A snapshot named three times, and one that bears the name the
	// second would get (an imported image): every order exports, each
	// name once. The export failed, "an image named ... already exists".
	taken := *m
	taken.Image.Name = "golden (" + m.ShortID() + ")"
	for _, snaps := range [][]*Manifest{{m, m, m}, {&taken, m, m}, {m, m, &taken}} {
		if _, err := r.Export(t.Context(), snaps, x, ExportOptions{}); err != nil {
			t.Errorf("export of %q, %q, %q: %v", snaps[0].Image.Name, snaps[1].Image.Name, snaps[2].Image.Name, err)
			continue
		}
		seen := map[string]bool{}
		for _, in := range wimtest.Open(t, x).Images() {
			if seen[in.Name] || !strings.HasPrefix(in.Name, "golden") {
				t.Errorf("image name %q twice, or not golden's", in.Name)
			}
			seen[in.Name] = true
		}
	}
}

// TestExportProgressSeveral: an export of several snapshots tells its
// Progress the total of all of them from the start, so the count never
// falls back as an image begins (it went from 81% to 69% when the second
// image's streams were added), and ends at that total.
func TestExportProgressSeveral(t *testing.T) {
	tmp := t.TempDir()
	r := testRepo(t, wim.CompressXPRESS)
	var snaps []*Manifest
	for i := range 3 {
		src := filepath.Join(tmp, fmt.Sprint("src", i))
		writeFiles(t, src, map[string]string{"big.bin": string(wimtest.RandomBytes(uint64(i), 256<<10)), "same.txt": "same"})
		snaps = append(snaps, snapshotOK(t, r, src, TakeOptions{}).Manifest)
	}
	var calls progressCalls
	if _, err := r.Export(t.Context(), snaps, filepath.Join(tmp, "x.wim"), ExportOptions{Progress: calls.add}); err != nil {
		t.Fatal(err)
	}
	if len(calls) == 0 {
		t.Fatal("no progress")
	}
	total := calls[len(calls)-1][1]
	for i, c := range calls {
		if c[1] != total || i > 0 && c[0] < calls[i-1][0] {
			t.Fatalf("progress %v, call %d: want the total %d throughout and done never falling", calls, i, total)
		}
	}
	if last := calls[len(calls)-1]; last[0] != total || total < 3*256<<10 {
		t.Errorf("last progress %v, want all of the three images' %d bytes and more", last, 3*256<<10)
	}
}

// TestExportIntegrityProgress: an export with Check reports the hashing
// of the WIM for its integrity table, from none to all of the WIM that the
// table covers, after the streams; it showed 100% of the streams, with no
// sign of life, for as long as that read of the whole file took.
func TestExportIntegrityProgress(t *testing.T) {
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	writeFiles(t, src, map[string]string{"big.bin": string(wimtest.RandomBytes(1, 256<<10))})
	r := testRepo(t, wim.CompressXPRESS)
	m := snapshotOK(t, r, src, TakeOptions{}).Manifest
	var streams, table progressCalls
	opts := ExportOptions{Check: true, Progress: func(done, total int64) {
		if len(table) > 0 {
			t.Errorf("stream progress %d of %d after the integrity table's", done, total)
		}
		streams.add(done, total)
	}, IntegrityProgress: table.add}
	if _, err := r.Export(t.Context(), []*Manifest{m}, filepath.Join(tmp, "x.wim"), opts); err != nil {
		t.Fatal(err)
	}
	if len(streams) == 0 || len(table) < 2 {
		t.Fatalf("progress of the streams %v, of the integrity table %v: want both", streams, table)
	}
	first, last := table[0], table[len(table)-1]
	if first[0] != 0 || last[0] != last[1] || last[1] < 256<<10 {
		t.Errorf("integrity table progress from %v to %v, want from none to all of the WIM (at least %d bytes)", first, last, 256<<10)
	}
}

// TestExportBootIndex: the image an export marks bootable: the one asked
// for, none for a negative BootIndex, and by default the first snapshot
// imported as its WIM's boot image (none when there is none, as for the
// manifests written before Image.Boot).
func TestExportBootIndex(t *testing.T) {
	plain, boot := &Manifest{}, &Manifest{Image: ImageFields{Boot: true}}
	for _, c := range []struct {
		name  string
		opt   int
		snaps []*Manifest
		want  int
	}{
		{"default, none boots", 0, []*Manifest{plain, plain}, 0},
		{"default", 0, []*Manifest{plain, boot, boot}, 2},
		{"asked", 1, []*Manifest{plain, boot}, 1},
		{"none asked", -1, []*Manifest{plain, boot}, 0},
	} {
		if got := bootIndex(c.opt, c.snaps); got != c.want {
			t.Errorf("%s: image %d boots, want %d", c.name, got, c.want)
		}
	}
}

// TestExportReadsEachPackOnce: an export from a store whose packs are
// fetched copies the streams pack by pack, so each pack is fetched about
// once: in the tree's order, where the packs hold files of every
// directory, it fetched each of them again and again (tens of times each
// on a year of nightly snapshots).
func TestExportReadsEachPackOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100 MiB")
	}
	tmp := t.TempDir()
	src := filepath.Join(tmp, "src")
	r, faulty := faultyRepo(t, filepath.Join(tmp, "cache"))
	r.packSize = 16 << 20
	var m *Manifest
	const rounds, dirs, files = 5, 10, 2 // in the tree's order, 50 visits of 10 packs
	for round := range rounds {
		for d := range dirs { // each round's packs hold files of every directory
			for f := range files {
				p := filepath.Join(src, fmt.Sprintf("d%d/r%d-%d", d, round, f))
				must(t, os.MkdirAll(filepath.Dir(p), 0o755))
				writeTestFile(t, p, wimtest.RandomBytes(uint64(round*100+d*10+f), 1<<20))
			}
		}
		m = snapshotOK(t, r, src, TakeOptions{}).Manifest
	}
	ids, err := listIDs(t.Context(), faulty, packPrefix)
	if err != nil {
		t.Fatal(err)
	}
	before := faulty.Calls("get")
	w := filepath.Join(tmp, "x.wim")
	st, err := r.Export(t.Context(), []*Manifest{m}, w, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	gets := faulty.Calls("get") - before
	t.Logf("%d packs, %d reads", len(ids), gets)
	// As a restore (TestRestoreReadsEachPackOnce): a file that straddles
	// two packs may cost one more read, and the packing varies with the
	// workers; 10 to 16 reads seen.
	if gets > 2*len(ids) || st.Expanded != 0 {
		t.Errorf("export read %d times from %d packs, expanded %d streams; want each pack about once, none expanded",
			gets, len(ids), st.Expanded)
	}
	wimtest.Wimlib(t, "verify", w)
}
