//go:build unix

package wim_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/wimsnap/wimsnap/wim"
	"github.com/wimsnap/wimsnap/wim/wimtest"
)

// paths lists an image's paths as `wimlib-imagex dir` prints them.
func paths(t *testing.T, r *wim.Reader, image int) []string {
	t.Helper()
	m, err := r.Metadata(image)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	err = m.Walk(func(p string, e *wim.Entry) error {
		out = append(out, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func wimlibPaths(t *testing.T, path string, image string) []string {
	t.Helper()
	out := strings.Split(strings.TrimSpace(wimtest.Wimlib(t, "dir", path, image)), "\n")
	sort.Strings(out)
	return out
}

// TestReadWimlibWIMs reads multi-image WIMs that wimlib-imagex captured in
// each of wimtest.WimlibVariants: the image list, paths, XML fields and every
// stream (checked by SHA-1) must agree.
func TestReadWimlibWIMs(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	src := t.TempDir()
	wimtest.MakeTree(t, src, wimtest.TreeOptions{})
	for _, v := range wimtest.WimlibVariants {
		t.Run(v.Name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "w.wim")
			flags := v.Flags
			wimtest.Wimlib(t, append([]string{"capture", src, path, "one", "first image", "--unix-data", "--check"}, flags...)...)
			wimtest.Wimlib(t, append([]string{"append", src + "/data", path, "two", "--unix-data"}, flags...)...)
			r := wimtest.Open(t, path)
			if r.ImageCount() != 2 || r.Image(1).Name != "one" || r.Image(1).Description != "first image" || r.Image(2).Name != "two" {
				t.Fatalf("images %+v", r.Images())
			}
			if r.Header().Version != v.Version() {
				t.Fatalf("version %#x for flags %q", r.Header().Version, v.Flags)
			}
			if err := r.Verify(nil); err != nil {
				t.Fatal(err)
			}
			for i, name := range []string{"1", "2"} {
				got, want := paths(t, r, i+1), wimlibPaths(t, path, name)
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("image %d paths differ:\n got %q\nwant %q", i+1, got, want)
				}
			}
			if !r.Header().HasIntegrity {
				t.Error("integrity table not seen")
			}
			if err := r.CheckIntegrity(nil); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestWimlibVerifiesOurs writes a WIM with the Writer from a tree of every
// kind of entry and lets wimlib-imagex verify and list it.
func TestWimlibVerifiesOurs(t *testing.T) {
	wimtest.Require(t, "wimlib-imagex")
	for _, c := range []wim.Compression{wim.CompressNone, wim.CompressXPRESS, wim.CompressLZX} {
		t.Run(c.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "o.wim")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			w, err := wim.NewWriter(f, wim.WithCompression(c), wim.WithIntegrity(true))
			if err != nil {
				t.Fatal(err)
			}
			big := bytes.Repeat([]byte("0123456789abcdef wimsnap "), 10000)
			h, err := w.AddStream(bytes.NewReader(big), int64(len(big)))
			if err != nil {
				t.Fatal(err)
			}
			root := &wim.Entry{Attributes: wim.AttrDirectory, SecurityID: -1, Children: []*wim.Entry{
				{Name: "big", Attributes: wim.AttrNormal, SecurityID: -1, Data: wim.Stream{Hash: h}, LinkID: 3},
				{Name: "big2", Attributes: wim.AttrNormal, SecurityID: -1, Data: wim.Stream{Hash: h}, LinkID: 3},
				{Name: "sub", Attributes: wim.AttrDirectory, SecurityID: -1},
			}}
			if err := w.AddImage(&wim.Metadata{Root: root}, wim.ImageInfo{Name: "mine", Description: "desc"}); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			wimtest.Wimlib(t, "verify", path)
			info := wimtest.Wimlib(t, "info", path, "1")
			for _, want := range []string{"Name:                   mine", "Description:            desc", "Hard Link Bytes:        250000"} {
				if !strings.Contains(info, want) {
					t.Errorf("wimlib info lacks %q:\n%s", want, info)
				}
			}
		})
	}
}

// TestUnsupportedCompressionIsClear asks for a writer of a codec that does
// not exist: the error says so, lists those written and wraps
// ErrUnsupported.
func TestUnsupportedCompressionIsClear(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "x.wim"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = wim.NewWriter(f, wim.WithCompression(wim.Compression(9)))
	if cerr := f.Close(); cerr != nil {
		t.Fatal(cerr)
	}
	if !errors.Is(err, wim.ErrUnsupported) || !strings.Contains(err.Error(), "writing compression unknown") ||
		!strings.Contains(err.Error(), "lzms") {
		t.Fatalf("got %v, want an unsupported-compression error listing the codecs written", err)
	}
}
