//go:build linux

package snapshot

import "testing"

// TestSameMount: a directory is deleted into only on the target's device
// and, where the kernel tells mounts apart, the target's mount.
func TestSameMount(t *testing.T) {
	target := mountID{dev: 8, mnt: 100}
	for _, tc := range []struct {
		name string
		m    mountID
		want bool
	}{
		{"same device and mount", mountID{dev: 8, mnt: 100}, true},
		{"btrfs subvolume: own device, parent's mount", mountID{dev: 9, mnt: 100}, false},
		{"bind mount from the same file system", mountID{dev: 8, mnt: 101}, false},
		{"another file system", mountID{dev: 9, mnt: 101}, false},
		{"mount unknown: the device decides", mountID{dev: 8}, true},
		{"mount unknown, another device", mountID{dev: 9}, false},
	} {
		if got := sameMount(tc.m, target); got != tc.want {
			t.Errorf("%s: sameMount = %v, want %v", tc.name, got, tc.want)
		}
	}
}
