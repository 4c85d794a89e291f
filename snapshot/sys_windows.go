//go:build windows

package snapshot

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/wimsnap/wimsnap/wim"
)

// This file holds the Win32 calls capture_windows.go and apply_windows.go
// share: the backup API, privileges and long paths.

var (
	kernel32         = windows.NewLazySystemDLL("kernel32.dll")
	procBackupRead   = kernel32.NewProc("BackupRead")
	procBackupWrite  = kernel32.NewProc("BackupWrite")
	procSetShortName = kernel32.NewProc("SetFileShortNameW")
)

// callProc calls proc, or fails with ERROR_CALL_NOT_IMPLEMENTED when this
// Windows (or an emulation of it) lacks the function: LazyProc.Call would
// panic.
func callProc(proc *windows.LazyProc, args ...uintptr) (uintptr, uintptr, error) {
	if proc.Find() != nil {
		return 0, 0, windows.ERROR_CALL_NOT_IMPLEMENTED
	}
	return proc.Call(args...)
}

// enablePrivileges turns on, once per process, the privileges that let the
// backup API read and write any file with its security (SeBackupPrivilege,
// SeRestorePrivilege, SeSecurityPrivilege for audit ACLs). A process that
// lacks them still works on the files it may open.
var enablePrivileges = sync.OnceValue(func() bool {
	var tok windows.Token
	if err := windows.OpenProcessToken(windows.CurrentProcess(), windows.TOKEN_ADJUST_PRIVILEGES|windows.TOKEN_QUERY, &tok); err != nil {
		return false
	}
	defer func() { _ = tok.Close() }()
	all := true
	for _, name := range []string{"SeBackupPrivilege", "SeRestorePrivilege", "SeSecurityPrivilege"} {
		var luid windows.LUID
		p, _ := windows.UTF16PtrFromString(name)
		if windows.LookupPrivilegeValue(nil, p, &luid) != nil {
			all = false
			continue
		}
		tp := windows.Tokenprivileges{PrivilegeCount: 1}
		tp.Privileges[0] = windows.LUIDAndAttributes{Luid: luid, Attributes: windows.SE_PRIVILEGE_ENABLED}
		// AdjustTokenPrivileges succeeds with ERROR_NOT_ALL_ASSIGNED when
		// the privilege is not held.
		err := windows.AdjustTokenPrivileges(tok, false, &tp, 0, nil, nil)
		if err != nil || errors.Is(windows.GetLastError(), windows.ERROR_NOT_ALL_ASSIGNED) {
			all = false
		}
	}
	return all
})

// longPath returns the absolute path p in the \\?\ form, which has no
// MAX_PATH limit and takes names literally.
func longPath(p string) (string, error) {
	if strings.HasPrefix(p, `\\?\`) {
		return p, nil
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(abs, `\\`) {
		return `\\?\UNC\` + abs[2:], nil
	}
	return `\\?\` + abs, nil
}

// openBackup opens path for the backup API: for reading (or writing) with
// its security, without following a reparse point.
func openBackup(path string, write bool, create uint32) (windows.Handle, error) {
	access := uint32(windows.GENERIC_READ | windows.READ_CONTROL)
	if write {
		access = windows.GENERIC_WRITE | windows.WRITE_DAC | windows.WRITE_OWNER | windows.FILE_WRITE_ATTRIBUTES | windows.DELETE
	}
	return openNoFollow(path, access, create, windows.FILE_FLAG_SEQUENTIAL_SCAN)
}

// openNoFollow opens path with backup semantics, without following a
// reparse point, shared with every other opener, for access, and for its
// audit ACL too when the process holds the privileges.
func openNoFollow(path string, access, create, flags uint32) (windows.Handle, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return windows.InvalidHandle, err
	}
	flags |= windows.FILE_FLAG_BACKUP_SEMANTICS | windows.FILE_FLAG_OPEN_REPARSE_POINT
	share := uint32(windows.FILE_SHARE_READ | windows.FILE_SHARE_WRITE | windows.FILE_SHARE_DELETE)
	if enablePrivileges() {
		h, err := windows.CreateFile(p, access|windows.ACCESS_SYSTEM_SECURITY, share, nil, create, flags, 0)
		if err == nil {
			return h, nil
		}
	}
	return windows.CreateFile(p, access, share, nil, create, flags, 0)
}

// backupStream reads a file's backup stream through BackupRead, or writes
// one through BackupWrite; Close releases the API's context. When the file
// system turns down the API's first call, the stream is read or written
// with plain calls instead (winplain_windows.go).
type backupStream struct {
	h       windows.Handle
	path    string // the file's \\?\ path, for its named streams
	write   bool
	context uintptr
	started bool         // a call of the API has succeeded
	plain   *plainStream // the plain calls' stream, once the API was turned down
}

func (b *backupStream) Read(p []byte) (int, error) {
	if b.plain != nil {
		return b.plain.Read(p)
	}
	if len(p) == 0 {
		return 0, nil
	}
	var n uint32
	r, _, err := callProc(procBackupRead, uintptr(b.h), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)),
		uintptr(unsafe.Pointer(&n)), 0, 1, uintptr(unsafe.Pointer(&b.context)))
	runtime.KeepAlive(p)
	if r == 0 {
		if !b.started && n == 0 && noBackupAPI(err) {
			if b.plain, err = readPlain(b.h, b.path); err != nil {
				return 0, err
			}
			return b.plain.Read(p)
		}
		return int(n), err
	}
	b.started = true
	if n == 0 {
		return 0, io.EOF
	}
	return int(n), nil
}

func (b *backupStream) Write(p []byte) (int, error) {
	if b.plain != nil {
		return b.plain.Write(p)
	}
	written := 0
	for len(p) > 0 {
		var n uint32
		r, _, err := callProc(procBackupWrite, uintptr(b.h), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)),
			uintptr(unsafe.Pointer(&n)), 0, 1, uintptr(unsafe.Pointer(&b.context)))
		runtime.KeepAlive(p)
		if r == 0 {
			if !b.started && n == 0 && noBackupAPI(err) {
				b.plain = writePlain(b.h, b.path)
				return b.plain.Write(p)
			}
			return written, err
		}
		b.started = true
		if n == 0 {
			return written, io.ErrShortWrite
		}
		written += int(n)
		p = p[n:]
	}
	return written, nil
}

// Close frees the backup context (a call with bAbort set). For a stream
// written with plain calls, it returns the first failure to apply it.
func (b *backupStream) Close() error {
	if b.plain != nil {
		err := b.plain.Close()
		b.plain = nil
		return err
	}
	if b.context == 0 {
		return nil
	}
	var n uint32
	proc := procBackupRead
	if b.write {
		proc = procBackupWrite
	}
	_, _, _ = callProc(proc, uintptr(b.h), 0, 0, uintptr(unsafe.Pointer(&n)), 1, 0, uintptr(unsafe.Pointer(&b.context)))
	b.context = 0
	return nil
}

// setShortName gives the open file h the DOS name name (SeRestorePrivilege
// needed).
func setShortName(h windows.Handle, name string) error {
	p, err := windows.UTF16PtrFromString(name)
	if err != nil {
		return err
	}
	if r, _, err := callProc(procSetShortName, uintptr(h), uintptr(unsafe.Pointer(p))); r == 0 {
		return err
	}
	return nil
}

// fileBasicInfo is FILE_BASIC_INFO.
type fileBasicInfo struct {
	CreationTime, LastAccessTime, LastWriteTime, ChangeTime int64
	FileAttributes                                          uint32
	_                                                       uint32
}

// setBasicInfo sets times and attributes of the open file h.
func setBasicInfo(h windows.Handle, e *wim.Entry) error {
	info := fileBasicInfo{
		CreationTime:   int64(e.CreationTime),
		LastAccessTime: int64(e.LastAccessTime),
		LastWriteTime:  int64(e.LastWriteTime),
		FileAttributes: settableWinAttributes(e.Attributes),
	}
	return windows.SetFileInformationByHandle(h, windows.FileBasicInfo, (*byte)(unsafe.Pointer(&info)), uint32(unsafe.Sizeof(info)))
}

func filetime(t windows.Filetime) wim.Filetime {
	return wim.Filetime(uint64(t.HighDateTime)<<32 | uint64(t.LowDateTime))
}

// openRegular opens the regular file at the slash-separated path below the
// open directory dir for reading, without leaving dir (os.OpenInRoot), and
// returns it with its size.
func openRegular(dir *os.File, path string) (*os.File, int64, error) {
	f, err := os.OpenInRoot(dir.Name(), filepath.FromSlash(path))
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		_ = f.Close()
		if err == nil {
			err = errors.New("not a regular file")
		}
		return nil, 0, err
	}
	return f, st.Size(), nil
}
