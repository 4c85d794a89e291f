package snapshot

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
)

// swapFS is a directory of named entries for swap's tests; its calls fail
// at the call numbered fail (from 1; 0: none), and are logged.
type swapFS struct {
	names map[string]string // name -> contents
	calls []string
	fail  int
}

func (f *swapFS) call(op string) error {
	f.calls = append(f.calls, op)
	if len(f.calls) == f.fail {
		return errors.New("injected failure")
	}
	return nil
}

func (f *swapFS) ops() swapOps {
	return swapOps{
		rename: func(from, to string) error {
			if err := f.call("rename " + from + " " + to); err != nil {
				return err
			}
			if _, ok := f.names[to]; ok {
				return errors.New("exists")
			}
			f.names[to] = f.names[from]
			delete(f.names, from)
			return nil
		},
		removeOld: func(aside string) error {
			if err := f.call("remove " + aside); err != nil {
				return err
			}
			delete(f.names, aside)
			return nil
		},
	}
}

// TestSwapOrder: swap renames the old entry aside, the new one in, and
// removes the old one only then; a failure at any step leaves the old
// entry or the new one at the name, never neither, and no entry lost.
func TestSwapOrder(t *testing.T) {
	const aside, in, remove, back = "rename dir/x dir/aside", "rename dir/tmp dir/x", "remove dir/aside", "rename dir/aside dir/x"
	tests := []struct {
		fail    int
		swapped bool
		at      string   // what dir/x holds after
		left    []string // the names after
		oldLeft bool
		calls   []string
	}{
		{fail: 0, swapped: true, at: "new", left: []string{"dir/x"}, calls: []string{aside, in, remove}},
		{fail: 1, swapped: false, at: "old", left: []string{"dir/tmp", "dir/x"}, calls: []string{aside}},
		{fail: 2, swapped: false, at: "old", left: []string{"dir/tmp", "dir/x"}, calls: []string{aside, in, back}},
		{fail: 3, swapped: true, at: "new", left: []string{"dir/aside", "dir/x"}, oldLeft: true, calls: []string{aside, in, remove}},
		// The rename back fails too: the old entry is kept aside.
		{fail: -1, swapped: false, at: "", left: []string{"dir/aside", "dir/tmp"}, calls: []string{aside, in, back}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.fail), func(t *testing.T) {
			f := &swapFS{names: map[string]string{"dir/x": "old", "dir/tmp": "new"}, fail: tt.fail}
			ops := f.ops()
			if tt.fail < 0 { // the second rename and the rename back fail
				rename := ops.rename
				ops.rename = func(from, to string) error {
					if from != "dir/x" {
						f.calls = append(f.calls, "rename "+from+" "+to)
						return errors.New("injected failure")
					}
					return rename(from, to)
				}
			}
			swapped, err := swap("dir/tmp", "dir/x", "dir/aside", ops)
			if swapped != tt.swapped || (err == nil) != (tt.fail == 0) || errors.Is(err, errOldLeft) != tt.oldLeft {
				t.Errorf("swap: %v, %v; want %v, error %v (old left %v)", swapped, err, tt.swapped, tt.fail != 0, tt.oldLeft)
			}
			if got := f.names["dir/x"]; got != tt.at {
				t.Errorf("dir/x holds %q, want %q", got, tt.at)
			}
			if got := slices.Sorted(maps.Keys(f.names)); !slices.Equal(got, tt.left) {
				t.Errorf("names %v, want %v", got, tt.left)
			}
			if !slices.Equal(f.calls, tt.calls) {
				t.Errorf("calls %q, want %q", f.calls, tt.calls)
			}
		})
	}
}
