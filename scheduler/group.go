package scheduler

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrGroupBy is wrapped by the errors of [ParseGroupBy].
var ErrGroupBy = errors.New("scheduler: invalid group-by")

// GroupBy says which fields of a snapshot make its group. The zero GroupBy
// puts every snapshot in one group.
type GroupBy struct {
	Host, Paths, Tags bool
}

// ParseGroupBy reads a comma-separated list of the fields "host", "paths"
// (or "path") and "tags", as restic's --group-by takes it; spaces around a
// field are ignored, and "" means no grouping. An unknown or empty field
// gives an error wrapping [ErrGroupBy] that names it.
func ParseGroupBy(s string) (GroupBy, error) {
	var by GroupBy
	if strings.TrimSpace(s) == "" {
		return by, nil
	}
	for f := range strings.SplitSeq(s, ",") {
		switch strings.TrimSpace(f) {
		case "host":
			by.Host = true
		case "paths", "path":
			by.Paths = true
		case "tags":
			by.Tags = true
		case "":
			return GroupBy{}, fmt.Errorf("%w %q: empty field", ErrGroupBy, s)
		default:
			return GroupBy{}, fmt.Errorf("%w %q: unknown field %q, want host, paths or tags",
				ErrGroupBy, s, strings.TrimSpace(f))
		}
	}
	return by, nil
}

// Group is the snapshots that agree on the fields of a GroupBy.
type Group struct {
	// Key names the group for people and identifies it: the grouped fields
	// in the order host, paths, tags, such as `host=lab1 paths=[/ /srv]`.
	// Paths and tags are listed sorted and without duplicates; a value that
	// is empty or holds a space, a bracket, a double quote, an unprintable
	// character or invalid UTF-8 is written as a Go string literal. Key is
	// "" when nothing is grouped.
	Key string

	// Snapshots holds the group's snapshots in their input order.
	Snapshots []Snapshot
}

// Groups splits snaps by the fields by selects and returns the groups
// ordered by Key; nil when snaps is empty. Paths and tags are compared as
// sets: order and duplicates do not matter. Groups does not modify snaps.
func Groups(snaps []Snapshot, by GroupBy) []Group {
	var groups []Group
	at := make(map[string]int) // key -> index in groups
	for _, s := range snaps {
		k := groupKey(s, by)
		i, ok := at[k]
		if !ok {
			i = len(groups)
			at[k] = i
			groups = append(groups, Group{Key: k})
		}
		groups[i].Snapshots = append(groups[i].Snapshots, s)
	}
	slices.SortFunc(groups, func(a, b Group) int { return strings.Compare(a.Key, b.Key) })
	return groups
}

// groupKey builds the Key of the group s belongs to under by.
func groupKey(s Snapshot, by GroupBy) string {
	var parts []string
	if by.Host {
		parts = append(parts, "host="+keyValue(s.Host))
	}
	if by.Paths {
		parts = append(parts, "paths="+keySet(s.Paths))
	}
	if by.Tags {
		parts = append(parts, "tags="+keySet(s.Tags))
	}
	return strings.Join(parts, " ")
}

// keySet writes a set of values as "[a b]", sorted and without duplicates.
func keySet(vs []string) string {
	sorted := slices.Compact(slices.Sorted(slices.Values(vs)))
	quoted := make([]string, len(sorted))
	for i, v := range sorted {
		quoted[i] = keyValue(v)
	}
	return "[" + strings.Join(quoted, " ") + "]"
}

// keyValue writes v bare when that cannot be confused with the key's own
// syntax, and as a Go string literal otherwise, so that distinct groups
// never share a Key.
func keyValue(v string) string {
	if v == "" || !utf8.ValidString(v) || strings.ContainsFunc(v, special) {
		return strconv.Quote(v)
	}
	return v
}

func special(r rune) bool {
	return r == ' ' || r == '[' || r == ']' || r == '"' || !unicode.IsPrint(r)
}
