//go:build unix

package snapshot

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/index"
	"github.com/wimsnap/wimsnap/remote"
	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

func TestKeyID(t *testing.T) {
	id := index.ID{0xab, 0x01}
	lower := objectKey("", id)
	upper := strings.ToUpper(lower)
	for _, tc := range []struct {
		name, prefix, key string
		ok                bool
	}{
		{"index object", indexPrefix, indexPrefix + lower, true},
		{"manifest", snapPrefix, snapPrefix + lower, true},
		{"pack", packPrefix, packKey(id), true},
		{"upper-case index object", indexPrefix, indexPrefix + upper, false},
		{"upper-case manifest", snapPrefix, snapPrefix + upper, false},
		{"upper-case pack", packPrefix, packPrefix + "AB/" + upper, false},
		{"pack outside its directory", packPrefix, packPrefix + lower, false},
		{"pack in another directory", packPrefix, packPrefix + "cd/" + lower, false},
		{"index object in a directory", indexPrefix, indexPrefix + "x/" + lower, false},
		{"short name", indexPrefix, indexPrefix + lower[:63], false},
		{"not hex", indexPrefix, indexPrefix + strings.Repeat("g", 64), false},
		{"manifest under another prefix", snapPrefix, indexPrefix + lower, false},
		{"pack directory without its slash", packPrefix, packPrefix + "abx" + lower, false},
		{"long name", snapPrefix, snapPrefix + lower + "0", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := keyID(tc.prefix, tc.key)
			if ok != tc.ok || ok && got != id {
				t.Errorf("keyID(%q, %q) = %x, %v; want ok %v", tc.prefix, tc.key, got, ok, tc.ok)
			}
		})
	}
}

// TestKeyIDDigits: every id comes back from the key it is stored under,
// whatever its digits.
func TestKeyIDDigits(t *testing.T) {
	for i := range 64 {
		var id index.ID
		for j := range id {
			id[j] = byte(i*37 + j*11)
		}
		for _, prefix := range []string{indexPrefix, snapPrefix, packPrefix} {
			key := objectKey(prefix, id)
			if prefix == packPrefix {
				key = packKey(id)
			}
			if got, ok := keyID(prefix, key); !ok || got != id {
				t.Fatalf("keyID(%q, %q) = %x, %v", prefix, key, got, ok)
			}
		}
	}
}

// TestForeignKeysIgnored: keys that are not of the form the repository
// writes (docs/repository.md: "Keys that do not have this form are
// ignored") are not taken for objects: an upper-case copy of an index
// object's key made check fail ("the index objects keep changing") and
// every snapshot warn and rebuild its index.
func TestForeignKeysIgnored(t *testing.T) {
	r := testRepo(t, wim.CompressNone)
	src := filepath.Join(t.TempDir(), "src")
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	snapshotOK(t, r, src, TakeOptions{})
	ctx := t.Context()
	var keys []string
	for _, prefix := range []string{indexPrefix, snapPrefix, packPrefix} {
		if err := r.store.List(ctx, prefix, func(i remote.Info) error {
			keys = append(keys, i.Key)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	other := strings.Repeat("0", 64) // an id no object has
	for _, key := range keys {
		dir, name := key[:strings.LastIndexByte(key, '/')+1], key[strings.LastIndexByte(key, '/')+1:]
		data, err := remote.ReadAll(ctx, r.store, key, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		for _, foreign := range []string{dir + strings.ToUpper(name), dir + "x/" + other} {
			if err := r.store.Put(ctx, foreign, bytes.NewReader(data), int64(len(data))); err != nil {
				t.Fatal(err)
			}
		}
	}
	res, err := r.Check(ctx, CheckOptions{})
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if len(res.Problems) > 0 || res.Snapshots != 1 || res.Unreferenced != 0 {
		t.Errorf("check: %d snapshots, %d unreferenced packs, problems %q; want 1, 0, none",
			res.Snapshots, res.Unreferenced, res.Problems)
	}
	snapshotOK(t, r, src, TakeOptions{}) // fails on any warning
}
