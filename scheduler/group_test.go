package scheduler

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseGroupBy(t *testing.T) {
	cases := []struct {
		in      string
		want    GroupBy
		wantErr string // a substring of the error; "" when valid
	}{
		{in: "", want: GroupBy{}},
		{in: "  ", want: GroupBy{}},
		{in: "host", want: GroupBy{Host: true}},
		{in: "host,paths", want: GroupBy{Host: true, Paths: true}},
		{in: "path", want: GroupBy{Paths: true}},
		{in: " tags , host ", want: GroupBy{Host: true, Tags: true}},
		{in: "host,paths,tags,host", want: GroupBy{Host: true, Paths: true, Tags: true}},
		{in: "hosts", wantErr: `unknown field "hosts"`},
		{in: "host,Paths", wantErr: `unknown field "Paths"`},
		{in: "host,", wantErr: "empty field"},
		{in: "host,,tags", wantErr: "empty field"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseGroupBy(tc.in)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrGroupBy) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseGroupBy(%q) = %v, %v; want an ErrGroupBy saying %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseGroupBy(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			}
		})
	}
}

// groupSnaps is a history of two hosts, listing paths and tags in varying
// order and with duplicates.
var groupSnaps = []Snapshot{
	{ID: "1", Host: "lab2", Paths: []string{"/"}, Tags: []string{"nightly"}},
	{ID: "2", Host: "lab1", Paths: []string{"/srv", "/"}, Tags: []string{"nightly", "manual"}},
	{ID: "3", Host: "lab1", Paths: []string{"/", "/srv", "/srv"}, Tags: []string{"manual", "nightly", "manual"}},
	{ID: "4", Host: "lab1", Paths: []string{"/"}},
	{ID: "5", Host: "lab2", Paths: []string{"/"}, Tags: []string{"nightly"}},
	{ID: "6", Host: "", Paths: []string{`C:\Program Files`, "D:"}, Tags: []string{"[x]"}},
}

func TestGroups(t *testing.T) {
	type group struct {
		key string
		ids string // the IDs of the group's snapshots, in order
	}
	cases := []struct {
		name string
		by   GroupBy
		want []group
	}{
		{"nothing", GroupBy{}, []group{{"", "123456"}}},
		{"host", GroupBy{Host: true}, []group{{`host=""`, "6"}, {"host=lab1", "234"}, {"host=lab2", "15"}}},
		{"paths as sets", GroupBy{Paths: true}, []group{
			{`paths=["C:\\Program Files" D:]`, "6"},
			{"paths=[/ /srv]", "23"},
			{"paths=[/]", "145"},
		}},
		{"host and paths", GroupBy{Host: true, Paths: true}, []group{
			{`host="" paths=["C:\\Program Files" D:]`, "6"},
			{"host=lab1 paths=[/ /srv]", "23"},
			{"host=lab1 paths=[/]", "4"},
			{"host=lab2 paths=[/]", "15"},
		}},
		{"tags as sets", GroupBy{Tags: true}, []group{
			{`tags=["[x]"]`, "6"},
			{"tags=[]", "4"},
			{"tags=[manual nightly]", "23"},
			{"tags=[nightly]", "15"},
		}},
		{"everything", GroupBy{Host: true, Paths: true, Tags: true}, []group{
			{`host="" paths=["C:\\Program Files" D:] tags=["[x]"]`, "6"},
			{"host=lab1 paths=[/ /srv] tags=[manual nightly]", "23"},
			{"host=lab1 paths=[/] tags=[]", "4"},
			{"host=lab2 paths=[/] tags=[nightly]", "15"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []group
			for _, g := range Groups(groupSnaps, tc.by) {
				ids := ""
				for _, s := range g.Snapshots {
					ids += s.ID
				}
				got = append(got, group{g.Key, ids})
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("groups\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestGroupsEmpty(t *testing.T) {
	if g := Groups(nil, GroupBy{Host: true}); g != nil {
		t.Errorf("Groups(nil) = %v, want nil", g)
	}
}

// TestGroupsKeyDistinct checks that values that would print alike when
// written bare get distinct keys.
func TestGroupsKeyDistinct(t *testing.T) {
	snaps := []Snapshot{
		{ID: "1", Paths: []string{"/a b"}},
		{ID: "2", Paths: []string{"/a", "b"}},
		{ID: "3", Paths: []string{`"/a"`}},
		{ID: "4", Paths: []string{"/a"}},
		{ID: "5", Paths: []string{""}},
		{ID: "6", Paths: nil},
	}
	groups := Groups(snaps, GroupBy{Paths: true})
	if len(groups) != len(snaps) {
		var keys []string
		for _, g := range groups {
			keys = append(keys, g.Key)
		}
		t.Errorf("%d groups for %d distinct path sets: %q", len(groups), len(snaps), keys)
	}
}

// TestGroupsInput checks that Groups leaves the snapshots' slices alone.
func TestGroupsInput(t *testing.T) {
	s := Snapshot{ID: "1", Paths: []string{"/srv", "/", "/srv"}, Tags: []string{"b", "a"}}
	Groups([]Snapshot{s}, GroupBy{Paths: true, Tags: true})
	if !slices.Equal(s.Paths, []string{"/srv", "/", "/srv"}) || !slices.Equal(s.Tags, []string{"b", "a"}) {
		t.Errorf("Groups modified the snapshot: %+v", s)
	}
}
