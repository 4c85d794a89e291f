package snapshot

import (
	"os"
	"strings"
	"sync"
)

// A lock whose process is gone blocks its kind for StaleAfter (30
// minutes) unless something knows that process is gone. A process knows it
// for locks of its own host name, boot and PID namespace (the lock's host
// and mark): a lock there whose PID runs no process, or whose PID is this
// process's own while this process does not hold it (its release failed,
// the store being down), is abandoned, and lockers and unlock remove it
// like a stale one. Locks of other machines, or written before marks, wait
// to be stale. (Machines cloned from a running one share its boot id; the
// host name tells them apart only if it was changed.)

// heldLocks holds the keys of the locks this process holds. It is
// package state on purpose: what it records, which locks of this
// process's PID are live, belongs to the process, whatever Repo took them
// (an agent runs several at once).
var heldLocks sync.Map

// processMark names this machine's boot and PID namespace ("" where it
// cannot be told: the lock is then never taken for abandoned).
var processMark = sync.OnceValue(func() string {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(boot)) + "/" + ns
})

// abandoned reports whether the lock rec, under key (for a mutex, the key
// of the lock it names), belongs to a process of this machine, whose host
// name is host, that is gone, or to this process without its holding it.
func abandoned(key string, rec lockRecord, host string) bool {
	mark := processMark()
	if mark == "" || rec.Mark != mark || rec.Host != host || rec.PID <= 0 {
		return false
	}
	if rec.PID == os.Getpid() {
		_, held := heldLocks.Load(key)
		return !held
	}
	return !processAlive(rec.PID)
}
