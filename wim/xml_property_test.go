package wim

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestSetProperty sets image properties by path as wimlib-imagex's
// --image-property does, and reads them back through the XML.
func TestSetProperty(t *testing.T) {
	tests := []struct {
		name  string
		sets  [][2]string
		path  string // read back after the sets
		want  string
		found bool
		err   string // of the last set
	}{
		{"typed field", [][2]string{{"DISPLAYNAME", "Win"}}, "DISPLAYNAME", "Win", true, ""},
		{"nested new", [][2]string{{"WINDOWS/EDITIONID", "Enterprise"}}, "WINDOWS/EDITIONID", "Enterprise", true, ""},
		{"replace", [][2]string{{"A/B", "1"}, {"A/B", "2"}}, "A/B", "2", true, ""},
		{"second of a list", [][2]string{{"L/X", "a"}, {"L/X[2]", "b"}}, "L/X[2]", "b", true, ""},
		{"first kept", [][2]string{{"L/X", "a"}, {"L/X[2]", "b"}}, "L/X[1]", "a", true, ""},
		{"index past the end", [][2]string{{"L/X[3]", "c"}}, "L/X", "", false, "there are 0 X elements"},
		{"remove", [][2]string{{"A/B", "1"}, {"A/B", ""}}, "A/B", "", false, ""},
		{"remove typed", [][2]string{{"FLAGS", "x"}, {"FLAGS", ""}}, "FLAGS", "", false, ""},
		{"text replaces children", [][2]string{{"A/B", "1"}, {"A", "t"}}, "A", "t", true, ""},
		{"computed", [][2]string{{"TOTALBYTES", "5"}}, "", "", false, "computed"},
		{"bad path", [][2]string{{"/A", "x"}}, "", "", false, "not an element path"},
		{"bad index", [][2]string{{"A[0]", "x"}}, "", "", false, "not an element path"},
		{"bad name", [][2]string{{"1A", "x"}}, "", "", false, "not an element path"},
		{"control", [][2]string{{"A", "x\x01"}}, "", "", false, "control character"},
		{"not UTF-8", [][2]string{{"A", "\xff"}}, "", "", false, "not valid UTF-8"},
		{"typed with index", [][2]string{{"NAME[2]", "x"}}, "", "", false, "one element of text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var in ImageInfo
			var err error
			for _, s := range tt.sets {
				err = in.SetProperty(s[0], s[1])
			}
			if tt.err != "" {
				if !errors.Is(err, ErrProperty) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want ErrProperty with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			infos, err := parseXML(marshalXML([]ImageInfo{in}, 0, false), 1)
			if err != nil {
				t.Fatal(err)
			}
			got, found := infos[0].Property(tt.path)
			if got != tt.want || found != tt.found {
				t.Errorf("Property(%q) = %q, %v; want %q, %v", tt.path, got, found, tt.want, tt.found)
			}
		})
	}
}

// TestSetPropertyCopies: setting a property of a copy of an ImageInfo
// leaves the original's elements as they were.
func TestSetPropertyCopies(t *testing.T) {
	var a ImageInfo
	if err := a.SetProperty("WINDOWS/EDITIONID", "Core"); err != nil {
		t.Fatal(err)
	}
	b := a
	if err := b.SetProperty("WINDOWS/EDITIONID", "Enterprise"); err != nil {
		t.Fatal(err)
	}
	if v, _ := a.Property("WINDOWS/EDITIONID"); v != "Core" {
		t.Errorf("original changed to %q", v)
	}
}

// TestSetPropertyRefusedChangesNothing: a SetProperty that fails leaves
// the image as it was, without the parents it would have created.
func TestSetPropertyRefusedChangesNothing(t *testing.T) {
	var in ImageInfo
	if err := in.SetProperty("L/X", "a"); err != nil {
		t.Fatal(err)
	}
	before := fmt.Sprint(in.Extra)
	for _, path := range []string{"NEW/X[2]", "L/X[3]", "L/Y/Z[2]"} {
		if err := in.SetProperty(path, "b"); !errors.Is(err, ErrProperty) {
			t.Fatalf("SetProperty(%q) = %v, want ErrProperty", path, err)
		}
		if after := fmt.Sprint(in.Extra); after != before {
			t.Errorf("SetProperty(%q) refused, yet the elements changed: %s, were %s", path, after, before)
		}
	}
}
