package snapshot

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// syncFS and syncAll flush to disk the file system holding a descriptor,
// and every file system (variables for tests).
var (
	syncFS  = unix.Syncfs
	syncAll = unix.Sync
)

// syncTree flushes to disk the file system of the directory fd and those
// mounted below it (a rollback of / writes into /boot and /home), these
// with sync(2), which reports no error. A FUSE file system (ntfs-3g) is
// flushed with sync(2) too: syncfs does not reach its daemon, whose writes
// to its device sync(2) flushes.
func syncTree(fd int) error {
	if err := syncFS(fd); err != nil {
		return err
	}
	if onFUSE(fd) || mountsBelow(fd) {
		syncAll()
	}
	return nil
}

// onFUSE reports whether fd lies on a FUSE file system.
func onFUSE(fd int) bool {
	var st unix.Statfs_t
	return unix.Fstatfs(fd, &st) == nil && st.Type == unix.FUSE_SUPER_MAGIC
}

// mountsBelow reports whether a file system is mounted below the
// directory fd, by /proc/self/mountinfo; true when that cannot be told.
func mountsBelow(fd int) bool {
	dir, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return true
	}
	prefix := strings.TrimSuffix(dir, "/") + "/"
	below := false
	err = eachMount(func(fields []string) {
		below = below || len(fields) > 4 && strings.HasPrefix(unescapeMount(fields[4]), prefix)
	})
	return below || err != nil
}

// eachMount calls fn with the fields of each line of /proc/self/mountinfo:
// "id parent major:minor root mount-point options ...", the root and the
// mount point with octal escapes (\040 for a space).
func eachMount(fn func(fields []string)) error {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	defer closeRead(f)
	s := bufio.NewScanner(f)
	for s.Scan() {
		fn(strings.Fields(s.Text()))
	}
	return s.Err()
}

// unescapeMount undoes the octal escapes (\040, \011, \012, \134) of a
// path in /proc/self/mountinfo.
func unescapeMount(p string) string {
	if !strings.Contains(p, `\`) {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] == '\\' && i+3 < len(p) {
			if n, err := strconv.ParseUint(p[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(p[i])
	}
	return b.String()
}
