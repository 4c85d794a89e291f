package wim

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// An image property is an element of an IMAGE element named by its path,
// as wimlib names it (wimlib_set_image_property): element names joined by
// '/' ("WINDOWS/VERSION/BUILD"), each optionally followed by a 1-based
// index in brackets ("WINDOWS/LANGUAGES/LANGUAGE[2]") choosing among
// elements of that name. Names are case-sensitive.

// computedProperties are the elements the Writer computes; a value set
// for them would not be written.
var computedProperties = map[string]bool{
	"DIRCOUNT": true, "FILECOUNT": true, "TOTALBYTES": true, "HARDLINKBYTES": true,
	"CREATIONTIME": true, "LASTMODIFICATIONTIME": true,
}

// pathStep is one component of a property path.
type pathStep struct {
	name  string
	index int // 1-based
}

// field returns the ImageInfo field that holds the top-level element
// name, or nil when it is kept in Extra.
func (in *ImageInfo) field(name string) *string {
	switch name {
	case "NAME":
		return &in.Name
	case "DESCRIPTION":
		return &in.Description
	case "DISPLAYNAME":
		return &in.DisplayName
	case "DISPLAYDESCRIPTION":
		return &in.DisplayDescription
	case "FLAGS":
		return &in.Flags
	case "CREATOR":
		return &in.Creator
	case "IMAGEVERSION":
		return &in.Version
	}
	return nil
}

// Property returns the text of the property path as it is stored, white
// space included, and whether the image has it; an element holding other
// elements has no text ("", true).
func (in *ImageInfo) Property(path string) (string, bool) {
	steps, err := parsePropertyPath(path)
	if err != nil {
		return "", false
	}
	if f := in.field(steps[0].name); f != nil {
		if len(steps) > 1 || steps[0].index != 1 {
			return "", false
		}
		return *f, *f != ""
	}
	root := XMLNode{Nodes: in.Extra}
	n, _ := root.walk(steps, false)
	if n == nil {
		return "", false
	}
	if len(n.Nodes) > 0 {
		return "", true
	}
	return n.Text, true
}

// SetProperty sets the property path to value, as wimlib-imagex's
// --image-property does: the element, and those above it that are
// missing, are created (an index may name at most one element past the
// last of its name); its text replaces whatever it held. An empty value
// removes the element. The fields the Writer computes (counts, sizes and
// times) are refused, and so are a path that is not one, an index past
// that, and a value that is not UTF-8 or holds control characters other
// than white space; the error wraps ErrProperty, and in is left as it
// was. SetProperty does not check that a NAME is unique: that is the
// caller's to check.
func (in *ImageInfo) SetProperty(path, value string) error {
	steps, err := parsePropertyPath(path)
	if err != nil {
		return err
	}
	if err := CheckText(value); err != nil {
		return fmt.Errorf("%w: %s: value %w", ErrProperty, path, err)
	}
	top := steps[0].name
	if computedProperties[top] {
		return fmt.Errorf("%w: %s is computed when the image is written", ErrProperty, top)
	}
	if f := in.field(top); f != nil {
		if len(steps) > 1 || steps[0].index != 1 {
			return fmt.Errorf("%w: %s: %s is one element of text", ErrProperty, path, top)
		}
		*f = value
		return nil
	}
	root := XMLNode{Nodes: cloneNodes(in.Extra)} // in may share Extra with a Reader's copy
	if value == "" {
		root.remove(steps)
	} else {
		n, err := root.walk(steps, true)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrProperty, path, err) // in is as it was
		}
		n.Nodes, n.Attrs, n.Text = nil, nil, value
	}
	in.Extra = root.Nodes
	return nil
}

// walk returns the element steps lead to from n, or nil when there is
// none; with create, the missing elements are appended.
func (n *XMLNode) walk(steps []pathStep, create bool) (*XMLNode, error) {
	for _, s := range steps {
		next, left := n.nth(s)
		if next == nil {
			if !create {
				return nil, nil
			}
			if left != 1 {
				return nil, fmt.Errorf("%s[%d]: there are %d %s elements", s.name, s.index, s.index-left, s.name)
			}
			n.Nodes = append(n.Nodes, XMLNode{XMLName: xmlName(s.name)})
			next = &n.Nodes[len(n.Nodes)-1]
		}
		n = next
	}
	return n, nil
}

// nth returns the s.index'th child of n called s.name; without one, it
// returns nil and how many more such children s.index needs.
func (n *XMLNode) nth(s pathStep) (*XMLNode, int) {
	left := s.index
	for i := range n.Nodes {
		if n.Nodes[i].XMLName.Local == s.name {
			if left--; left == 0 {
				return &n.Nodes[i], 0
			}
		}
	}
	return nil, left
}

// remove deletes the element steps lead to from n, if there is one.
func (n *XMLNode) remove(steps []pathStep) {
	parent, err := n.walk(steps[:len(steps)-1], false)
	if parent == nil || err != nil {
		return
	}
	last := steps[len(steps)-1]
	left := last.index
	for i := range parent.Nodes {
		if parent.Nodes[i].XMLName.Local == last.name {
			if left--; left == 0 {
				parent.Nodes = append(parent.Nodes[:i], parent.Nodes[i+1:]...)
				return
			}
		}
	}
}

// parsePropertyPath splits path into its steps; the error wraps
// ErrProperty.
func parsePropertyPath(path string) ([]pathStep, error) {
	var steps []pathStep
	for comp := range strings.SplitSeq(path, "/") {
		s, ok := parseStep(comp)
		if !ok {
			return nil, fmt.Errorf("%w: %q is not an element path such as WINDOWS/LANGUAGES/LANGUAGE[2]", ErrProperty, path)
		}
		steps = append(steps, s)
	}
	return steps, nil
}

// parseStep parses NAME or NAME[N] (N >= 1).
func parseStep(comp string) (pathStep, bool) {
	s := pathStep{name: comp, index: 1}
	if open := strings.IndexByte(comp, '['); open >= 0 {
		n, err := strconv.Atoi(strings.TrimSuffix(comp[open+1:], "]"))
		if !strings.HasSuffix(comp, "]") || err != nil || n < 1 || comp[open+1] == '+' {
			return s, false
		}
		s.name, s.index = comp[:open], n
	}
	return s, xmlNameOK(s.name)
}

// xmlNameOK reports whether name is an XML element name without a
// namespace prefix.
func xmlNameOK(name string) bool {
	for i, r := range name {
		letter := unicode.IsLetter(r) || r == '_'
		if !letter && (i == 0 || !unicode.IsDigit(r) && r != '-' && r != '.') {
			return false
		}
	}
	return name != ""
}

// CheckText fails when v cannot be the text of an element of an image's
// XML information as it is (a name, a description, a property): when it
// is not UTF-8, or holds a control character other than white space,
// which XML 1.0 cannot carry (wimlib refuses such a value; the Writer would
// store U+FFFD for it). The error quotes v.
func CheckText(v string) error {
	if !utf8.ValidString(v) {
		return fmt.Errorf("%q is not valid UTF-8", v)
	}
	for _, r := range v {
		if IsTextControl(r) {
			return fmt.Errorf("%q holds control character %U", v, r)
		}
	}
	return nil
}

// IsTextControl reports whether r is a control character that CheckText
// refuses: below U+0020 and not tab, line feed or carriage return.
func IsTextControl(r rune) bool {
	return r < 0x20 && r != '\t' && r != '\n' && r != '\r'
}

// cloneNodes returns a deep copy of nodes.
func cloneNodes(nodes []XMLNode) []XMLNode {
	if nodes == nil {
		return nil
	}
	out := make([]XMLNode, len(nodes))
	for i, n := range nodes {
		n.Attrs = append([]xml.Attr(nil), n.Attrs...)
		n.Nodes = cloneNodes(n.Nodes)
		out[i] = n
	}
	return out
}
