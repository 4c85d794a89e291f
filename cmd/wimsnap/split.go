package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wimsnap/wimsnap/wim"
)

// refHelp is the help of --ref, the flag that names the other parts of a
// split WIM, or the WIMs a delta WIM refers to.
const refHelp = "another part of a split WIM, or a WIM that holds streams WIMFILE refers to (the base of a delta WIM " +
	"written with wimlib-imagex --delta-from); a file or a glob such as 'install*.swm'; repeatable; " +
	"default: the parts named as DISM and wimlib name them beside WIMFILE (install.swm, install2.swm, ...)"

// addRefFlag adds --ref to cmd.
func addRefFlag(cmd *cobra.Command, refs *[]string) {
	cmd.Flags().StringArrayVar(refs, "ref", nil, refHelp)
}

// openWIMSet opens the WIM at name. When it is a part of a split WIM, it
// opens the other parts too: those named as DISM and wimlib name parts
// (see partNames) that are there, and the files the patterns in refs
// match; the Reader returned is then part 1's with the others added, which
// reads the images and every part's streams. A file refs names must be a
// part of the same split WIM; one found by its name is skipped when it is
// not. With whole set, missing parts are an error naming them; without,
// only a missing part 1, which holds the images (dir needs no more). When
// name is not split, refs name WIMs whose streams its images use (a delta
// WIM's bases), added with wim.Reader.AddRef. done closes every file
// opened.
func openWIMSet(name string, refs []string, whole bool) (_ *wim.Reader, _ func(), err error) {
	f, r, err := openWIM(name)
	if err != nil {
		return nil, nil, err
	}
	s := &partSet{name: name, hdr: r.Header(), files: []*os.File{f}, parts: []*wim.Reader{r}}
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	seen, err := os.Stat(name)
	if err != nil {
		return nil, nil, err
	}
	s.seen = []fs.FileInfo{seen}
	if !s.hdr.Split() {
		if err := s.addBases(refs); err != nil {
			return nil, nil, err
		}
		return r, s.close, nil
	}
	if err := s.addRefs(refs); err != nil {
		return nil, nil, err
	}
	tried := partNames(name, int(s.hdr.Part), int(s.hdr.Parts))
	s.addSiblings(tried)
	r, err = joinParts(name, s.parts)
	if err != nil {
		return nil, nil, err
	}
	m := r.MissingParts()
	if !whole && len(m) > 0 && m[0] == 1 {
		m = m[:1] // the images are in part 1
	}
	if len(m) > 0 && (whole || m[0] == 1) {
		return nil, nil, missingParts(name, s.hdr, m, tried, s)
	}
	return r, s.close, nil
}

// partSet gathers the parts of the split WIM at name.
type partSet struct {
	name  string
	hdr   wim.Header // name's
	files []*os.File
	parts []*wim.Reader
	seen  []fs.FileInfo // the files opened
	nums  []uint16      // the part numbers opened
	// foreign are the files found under the parts' names that belong to
	// another split WIM (or are no split WIM), left out.
	foreign []string
	// unreadable are the errors of files found under the parts' names
	// that could not be read as WIMs (a truncated copy, say).
	unreadable []error
}

func (s *partSet) close() {
	for _, f := range s.files {
		closeRead(f)
	}
}

// addRefs opens the files the patterns match; each must be a part of the
// split WIM.
func (s *partSet) addRefs(refs []string) error {
	for _, pat := range refs {
		m, err := filepath.Glob(pat)
		if err != nil || len(m) == 0 {
			return usagef("--ref %q matches no file", pat)
		}
		for _, n := range m {
			if err := s.open(n, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// addBases opens the files the patterns match, WIMs whose streams the
// WIM at s.name (not split) refers to, and adds their streams to its
// Reader. A file matched twice, or name itself, is opened once.
func (s *partSet) addBases(refs []string) error {
	for _, pat := range refs {
		m, err := filepath.Glob(pat)
		if err != nil || len(m) == 0 {
			return usagef("--ref %q matches no file", pat)
		}
		for _, n := range m {
			if err := s.openBase(n); err != nil {
				return err
			}
		}
	}
	return nil
}

// openBase opens the WIM at n, unless opened already, and adds its
// streams to s.parts[0].
func (s *partSet) openBase(n string) error {
	f, p, st, err := s.openUnseen(n)
	if err != nil || f == nil {
		return err
	}
	s.seen = append(s.seen, st)
	s.files = append(s.files, f)
	s.parts[0].AddRef(p)
	return nil
}

// openUnseen opens the WIM at n and returns its file, reader and status,
// or a nil file when that file is one opened already.
func (s *partSet) openUnseen(n string) (*os.File, *wim.Reader, os.FileInfo, error) {
	st, err := os.Stat(n)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, o := range s.seen {
		if os.SameFile(st, o) {
			return nil, nil, nil, nil
		}
	}
	f, p, err := openWIM(n)
	return f, p, st, err
}

// addSiblings opens those of names that exist and are parts of the split
// WIM not opened yet; one that is not a part is no part of the set, and
// one that exists but cannot be read is remembered in unreadable.
func (s *partSet) addSiblings(names []string) {
	for _, n := range names {
		if err := s.open(n, false); err != nil && !errors.Is(err, fs.ErrNotExist) {
			s.unreadable = append(s.unreadable, err)
		}
	}
}

// open adds the part at n, unless it is a file or a part number opened
// already; a file that is not a part of the split WIM is an error when
// strict, else left out.
func (s *partSet) open(n string, strict bool) error {
	f, p, st, err := s.openUnseen(n)
	if err != nil || f == nil {
		return err
	}
	ph := p.Header()
	switch {
	case !ph.Split() || ph.GUID != s.hdr.GUID || ph.Parts != s.hdr.Parts:
		closeRead(f)
		if strict {
			return fmt.Errorf("%s: not a part of the split WIM %s is part %d of (another GUID, or not split)", n, s.name, s.hdr.Part)
		}
		s.foreign = append(s.foreign, n)
		return nil
	case ph.Part == s.hdr.Part || slices.Contains(s.nums, ph.Part):
		closeRead(f) // a copy of a part opened already
		return nil
	}
	s.seen = append(s.seen, st)
	s.nums = append(s.nums, ph.Part)
	s.files = append(s.files, f)
	s.parts = append(s.parts, p)
	return nil
}

// deltaHint adds to err, when it is a stream missing from the WIM r (not
// split: a missing part is named before), that a delta WIM reads with the
// WIMs it was made against.
func deltaHint(r *wim.Reader, err error) error {
	if err == nil || r.Header().Split() || !errors.Is(err, wim.ErrNotFound) {
		return err
	}
	return fmt.Errorf("%w (%s)", err, deltaHelp)
}

// deltaHelp says what a WIM lacking streams may need.
const deltaHelp = "a delta WIM, written with --delta-from, needs the WIMs it was made against: give them with --ref"

// partNames returns the names DISM's /Split-Image and wimlib-imagex split
// give the other parts of the split WIM whose part number part is name:
// base.swm for part 1, then base2.swm to baseN.swm. A part k > 1 must be
// named baseK.swm for base to be found.
func partNames(name string, part, parts int) []string {
	first := name
	if part > 1 {
		ext := filepath.Ext(name)
		stem, ok := strings.CutSuffix(strings.TrimSuffix(name, ext), strconv.Itoa(part))
		if !ok {
			return nil
		}
		first = stem + ext
	}
	var names []string
	for k := 1; k <= parts; k++ {
		if k != part {
			names = append(names, partName(first, k))
		}
	}
	return names
}

// partName returns the name of part k of the split WIM whose part 1 is
// first: first itself, else its name with k before the extension.
func partName(first string, k int) string {
	if k == 1 {
		return first
	}
	ext := filepath.Ext(first)
	return strings.TrimSuffix(first, ext) + strconv.Itoa(k) + ext
}

// joinParts adds the other parts to part 1's Reader (or to the first's,
// when part 1 is not among them) and returns it.
func joinParts(name string, parts []*wim.Reader) (*wim.Reader, error) {
	first := parts[0]
	for _, p := range parts {
		if p.Header().Part == 1 {
			first = p
		}
	}
	for _, p := range parts {
		if p == first {
			continue
		}
		if err := first.AddPart(p); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return first, nil
}

// missingParts describes the parts of the split WIM at name that were not
// found, the names looked for, those of them that were found but belong
// to another split WIM (an interrupted split over an older set leaves such
// a mix) and those that could not be read, with why.
func missingParts(name string, h wim.Header, missing []int, tried []string, s *partSet) error {
	const most = 10 // names given; a hostile header may claim 65535 parts
	cut := func(names []string) string {
		if len(names) > most {
			names = append(names[:most:most], "...")
		}
		return strings.Join(names, ", ")
	}
	where := "give them with --ref"
	if len(tried) > 0 {
		where = "looked for " + cut(tried) + "; give them with --ref"
	}
	if len(s.foreign) > 0 {
		verb := " belongs"
		if len(s.foreign) > 1 {
			verb = " belong"
		}
		where += "; " + cut(s.foreign) + verb + " to another split WIM (another GUID), as after a split " +
			"over an older set that did not finish: split again"
	}
	for i, err := range s.unreadable {
		if i == most {
			where += "; ..."
			break
		}
		where += "; cannot read " + err.Error()
	}
	return fmt.Errorf("%s: part %d of a %d-part split WIM: part(s) %s missing (%s)",
		name, h.Part, h.Parts, wim.PartList(missing), where)
}
