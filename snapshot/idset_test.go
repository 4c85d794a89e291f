package snapshot

import (
	"testing"

	"github.com/wimsnap/wimsnap/index"
)

func TestIDSet(t *testing.T) {
	id := func(prefix, rest byte) index.ID {
		var x index.ID
		x[0], x[31] = prefix, rest
		return x
	}
	s := newIDSet()
	for _, c := range []struct {
		name string
		id   index.ID
		want bool
	}{
		{"new", id(1, 1), true},
		{"again", id(1, 1), false},
		{"another", id(2, 1), true},
		{"same prefix, other id", id(1, 2), true},
		{"that one again", id(1, 2), false},
		{"a third with the prefix", id(1, 3), true},
		{"the first still", id(1, 1), false},
		{"the third again", id(1, 3), false},
	} {
		if got := s.add(c.id); got != c.want {
			t.Errorf("%s: add = %v, want %v", c.name, got, c.want)
		}
	}
}
