package remote

import "syscall"

// ownersFromMount reports whether the file system of dir shows, for every
// file, the owner its mount options say, whoever made it: FUSE (ntfs-3g),
// FAT, exFAT, the kernel's NTFS drivers and SMB. Its owner reads what
// anyone writes there.
func ownersFromMount(dir string) bool {
	var fs syscall.Statfs_t
	if syscall.Statfs(dir, &fs) != nil {
		return false
	}
	switch uint32(fs.Type) {
	case 0x65735546, // FUSE
		0x4d44,     // FAT
		0x2011bab0, // exFAT
		0x5346544e, // NTFS (ntfs, ntfs3)
		0x7366746e, // ntfs3
		0xff534d42, // CIFS
		0xfe534d42: // SMB2
		return true
	}
	return false
}
