package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/wimsnap/wimsnap/index"
)

// Reading a subset of the packs in Check (wimsnap check --read-data-subset):
// a fixed group of packs, so that a cycle of runs reads every pack once, or
// a random share.

// SubsetForms names the forms ParseDataSubset accepts, for messages.
const SubsetForms = "n/t (group n of t, 1 <= n <= t, e.g. 3/7) or N% (a random N percent of the packs, 0 < N <= 100, e.g. 2.5%)"

// DataSubset selects the packs Check reads. The zero value selects every
// pack. Set either Group and Groups or Percent.
type DataSubset struct {
	// Group n of Groups t (1 <= n <= t) selects the packs whose id's first
	// 8 bytes, read as a big-endian integer, are n-1 modulo t. A pack's
	// group depends on its id alone, so runs with n = 1, 2, ..., t read
	// every pack exactly once, and a pack added meanwhile is read in its
	// group's turn.
	Group, Groups uint64
	// Percent (0 < Percent <= 100) selects a random share of the packs:
	// Percent% of them rounded to the nearest whole number, but at least
	// one when there is any.
	Percent float64
}

// SubsetError reports a data subset that ParseDataSubset refuses.
type SubsetError struct {
	Input  string // the text given
	Reason string // what is wrong with it
}

func (e *SubsetError) Error() string {
	return fmt.Sprintf("check: data subset %q: %s; want %s", e.Input, e.Reason, SubsetForms)
}

// ParseDataSubset parses "n/t" (decimal integers, 1 <= n <= t) or "N%"
// (a decimal number with an optional fraction, 0 < N <= 100). The error
// is a *SubsetError.
func ParseDataSubset(s string) (DataSubset, error) {
	fail := func(format string, args ...any) (DataSubset, error) {
		return DataSubset{}, &SubsetError{Input: s, Reason: fmt.Sprintf(format, args...)}
	}
	if num, ok := strings.CutSuffix(s, "%"); ok {
		p, err := strconv.ParseFloat(num, 64)
		switch {
		case !plainDecimal(num) || err != nil:
			return fail("%q is not a decimal number", num)
		case p <= 0 || p > 100:
			return fail("the percentage must be above 0 and at most 100")
		}
		return DataSubset{Percent: p}, nil
	}
	ns, ts, ok := strings.Cut(s, "/")
	if !ok {
		return fail("neither a group n/t nor a percentage")
	}
	n, nerr := strconv.ParseUint(ns, 10, 64)
	t, terr := strconv.ParseUint(ts, 10, 64)
	switch {
	case nerr != nil || terr != nil:
		return fail("n and t must be whole numbers")
	case t == 0 || n == 0 || n > t:
		return fail("n must be from 1 to t")
	}
	return DataSubset{Group: n, Groups: t}, nil
}

// plainDecimal reports whether s is digits with an optional fractional
// part ("2", "2.5"): no sign, exponent, hex form or Inf.
func plainDecimal(s string) bool {
	whole, frac, dot := strings.Cut(s, ".")
	digits := func(d string) bool {
		return d != "" && strings.Trim(d, "0123456789") == ""
	}
	return digits(whole) && (!dot || digits(frac))
}

// IsZero reports whether s is the zero value, which selects every pack.
func (s DataSubset) IsZero() bool { return s == DataSubset{} }

// String formats s as ParseDataSubset reads it; "" for the zero value.
func (s DataSubset) String() string {
	switch {
	case s.Groups != 0:
		return fmt.Sprintf("%d/%d", s.Group, s.Groups)
	case s.Percent != 0:
		return strconv.FormatFloat(s.Percent, 'f', -1, 64) + "%"
	}
	return ""
}

// validate checks a DataSubset that may not come from ParseDataSubset.
func (s DataSubset) validate() error {
	group := s.Groups != 0 || s.Group != 0
	switch {
	case group && s.Percent != 0:
		return errors.New("check: data subset: both a group and a percentage")
	case group && (s.Group == 0 || s.Group > s.Groups):
		return fmt.Errorf("check: data subset: group %d of %d", s.Group, s.Groups)
	case !group && (math.IsNaN(s.Percent) || s.Percent < 0 || s.Percent > 100):
		return fmt.Errorf("check: data subset: %v percent", s.Percent)
	}
	return nil
}

// packGroup is the group, 1 to t, of pack id among t groups.
func packGroup(id index.ID, t uint64) uint64 {
	return binary.BigEndian.Uint64(id[:8])%t + 1
}

// selectPacks returns the packs of ids that s selects, sorted by id. rnd
// draws a percentage's packs; the same ids (in any order) and the same
// rnd state give the same selection. It does not modify ids.
func (s DataSubset) selectPacks(ids []index.ID, rnd *rand.Rand) []index.ID {
	sorted := slices.SortedFunc(slices.Values(ids), index.ID.Compare)
	switch {
	case s.Groups != 0:
		return slices.DeleteFunc(sorted, func(id index.ID) bool { return packGroup(id, s.Groups) != s.Group })
	case s.Percent == 0 || len(sorted) == 0:
		return sorted
	}
	k := int(math.Round(float64(len(sorted)) * s.Percent / 100))
	k = min(max(k, 1), len(sorted))
	for i := range k { // a partial Fisher-Yates shuffle
		j := i + rnd.IntN(len(sorted)-i)
		sorted[i], sorted[j] = sorted[j], sorted[i]
	}
	picked := sorted[:k]
	slices.SortFunc(picked, index.ID.Compare)
	return picked
}

// newCheckRand returns a generator seeded at random, for percentage subsets
// when CheckOptions.Rand is nil.
func newCheckRand() *rand.Rand {
	return rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
}
