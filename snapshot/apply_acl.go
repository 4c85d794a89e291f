//go:build unix

package snapshot

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/wimsnap/wimsnap/wim"
)

// This file keeps the POSIX ACLs of a restored tree the snapshot's. A
// file or directory made in a directory that has a default ACL gets an
// access ACL from the kernel, and a directory the default ACL too, which
// the image may lack: restored under a directory with a default ACL, a
// tree carried ACLs its source had not, and the next rollback found them
// to fix. Only where the image speaks for the entry's xattrs: an entry
// with UNIX data, and not with KeepXattrs (apply and extract, which keep
// the xattrs they find and leave inherited ACLs, as wimlib-imagex does)
// unless the target was empty, so that the apply made every entry.

// The xattrs that hold POSIX ACLs.
const (
	aclAccess  = "system.posix_acl_access"
	aclDefault = "system.posix_acl_default"
)

// noteACLs looks, once the walk knows whether the target was empty
// (fresh), for the default ACLs entries may inherit: of the image's
// directories, and of the target.
func (a *applier) noteACLs() {
	a.noteImageDefaultACL(a.applied)
	a.noteDefaultACL(a.rootFD)
}

// stripsACLs reports whether the apply removes the ACLs the kernel gives
// what it makes and the image lacks.
func (a *applier) stripsACLs() bool {
	return a.unixData && a.ntfs == nil && (!a.opts.KeepXattrs || a.fresh)
}

// noteDefaultACL records that entries made from now on may inherit ACLs
// when the directory fd has a default ACL. Until one is seen, nothing is
// removed, so a tree without ACLs costs no call per entry.
func (a *applier) noteDefaultACL(fd int) {
	if !a.stripsACLs() || a.inheritsACL.Load() {
		return
	}
	if n, err := unix.Fgetxattr(fd, aclDefault, nil); err == nil && n > 0 {
		a.inheritsACL.Store(true)
	}
}

// noteImageDefaultACL records that entries may inherit ACLs when a
// directory of the trees es has a default ACL, which the apply sets.
func (a *applier) noteImageDefaultACL(es []*wim.Entry) {
	if !a.stripsACLs() {
		return
	}
	var has func(e *wim.Entry) bool
	has = func(e *wim.Entry) bool {
		if !e.IsDir() {
			return false
		}
		if xattrOf(e, aclDefault) {
			return true
		}
		for _, c := range e.Children {
			if has(c) {
				return true
			}
		}
		return false
	}
	for _, e := range es {
		if has(e) {
			a.inheritsACL.Store(true)
			return
		}
	}
}

// xattrOf reports whether e has the xattr name.
func xattrOf(e *wim.Entry, name string) bool {
	for _, x := range e.Xattrs {
		if x.Name == name {
			return true
		}
	}
	return false
}

// dropInheritedACLs removes from the file t names (a descriptor, or a
// NUL-terminated path: see xattrTarget.remove), the entry e, the ACLs e
// lacks, once a default ACL has been seen (noteDefaultACL, which sees none
// where ACLs are left alone) and when e has UNIX data; it returns the
// failures, none for ACLs that are not there.
func (a *applier) dropInheritedACLs(t xattrTarget, e *wim.Entry, isDir bool) []error {
	if !a.inheritsACL.Load() || e.Unix == nil { // the image says nothing of its xattrs
		return nil
	}
	var errs []error
	for _, name := range aclNames(isDir) {
		if xattrOf(e, name) {
			continue
		}
		if err := t.remove(name); err != nil && !xattrUnsupported(err) {
			errs = append(errs, fmt.Errorf("removing the inherited %s: %w", name, err))
		}
	}
	return errs
}

// aclNames returns the ACL xattrs an entry may inherit: a directory both.
func aclNames(isDir bool) []string {
	if isDir {
		return []string{aclAccess, aclDefault}
	}
	return []string{aclAccess}
}
