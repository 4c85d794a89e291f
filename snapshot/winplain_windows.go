//go:build windows

package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
)

// This file makes and takes a file's backup stream (winbackup.go) with
// plain Win32 calls, for file systems whose driver does not implement the
// backup API: BackupRead and BackupWrite then fail at once with
// ERROR_INVALID_FUNCTION or ERROR_NOT_SUPPORTED (some network redirectors
// and user-mode file systems, and Wine). The stream is the one BackupRead
// would give, section for section, so capture and apply do not know which
// way it came:
//
//	security   GetSecurityInfo / SetKernelObjectSecurity
//	reparse    FSCTL_GET_REPARSE_POINT / FSCTL_SET_REPARSE_POINT
//	data       ReadFile / WriteFile on the file's handle
//	named      FindFirstStreamW, then "path:name" opened on its own
//
// Sparse ranges are not asked for: a sparse file's data reads as its bytes.

var (
	procFindFirstStream = kernel32.NewProc("FindFirstStreamW")
	procFindNextStream  = kernel32.NewProc("FindNextStreamW")
)

// noBackupAPI reports whether err, from the first call of BackupRead or
// BackupWrite on a file, means the file system does not support the API.
func noBackupAPI(err error) bool {
	return errors.Is(err, windows.ERROR_INVALID_FUNCTION) || errors.Is(err, windows.ERROR_NOT_SUPPORTED) ||
		errors.Is(err, windows.ERROR_CALL_NOT_IMPLEMENTED)
}

// plainStream is the backup stream of one file, read or written with plain
// calls. Close releases the named streams' handles; for writing, it waits
// for the sections to be applied and returns the first failure.
type plainStream struct {
	r       io.Reader
	handles []windows.Handle
	w       *io.PipeWriter
	done    chan error
}

func (p *plainStream) Read(b []byte) (int, error)  { return p.r.Read(b) }
func (p *plainStream) Write(b []byte) (int, error) { return p.w.Write(b) }

func (p *plainStream) Close() error {
	for _, h := range p.handles {
		_ = windows.CloseHandle(h)
	}
	p.handles = nil
	if p.w == nil {
		return nil
	}
	_ = p.w.Close()
	err := <-p.done
	p.w = nil
	return err
}

// readPlain returns the backup stream of the open file h at path.
func readPlain(h windows.Handle, path string) (*plainStream, error) {
	var info windows.ByHandleFileInformation
	if err := windows.GetFileInformationByHandle(h, &info); err != nil {
		return nil, err
	}
	sd, err := securityOf(h)
	if err != nil {
		return nil, err
	}
	var hdr []byte
	if len(sd) > 0 {
		hdr = append(backupSection(nil, backupSecurity, "", int64(len(sd))), sd...)
	}
	p := &plainStream{}
	if info.FileAttributes&windows.FILE_ATTRIBUTE_REPARSE_POINT != 0 {
		buf, err := reparseOf(h)
		if err != nil {
			return nil, err
		}
		p.r = bytes.NewReader(append(backupSection(hdr, backupReparse, "", int64(len(buf))), buf...))
		return p, nil
	}
	parts := []io.Reader{bytes.NewReader(hdr)}
	if info.FileAttributes&windows.FILE_ATTRIBUTE_DIRECTORY == 0 {
		size := int64(info.FileSizeHigh)<<32 | int64(info.FileSizeLow)
		parts = append(parts, bytes.NewReader(backupSection(nil, backupData, "", size)),
			io.LimitReader(handleIO{h}, size))
	}
	named, err := namedStreams(path)
	if err != nil {
		return nil, err
	}
	for _, s := range named {
		sh, err := openBackup(s.path, false, windows.OPEN_EXISTING)
		if err != nil {
			p.r = io.MultiReader(parts...)
			_ = p.Close()
			return nil, fmt.Errorf("named stream %s: %w", s.name, err)
		}
		p.handles = append(p.handles, sh)
		parts = append(parts, bytes.NewReader(backupSection(nil, backupAlternate, s.name, s.size)),
			io.LimitReader(handleIO{sh}, s.size))
	}
	p.r = io.MultiReader(parts...)
	return p, nil
}

// reparseOf returns the reparse buffer of the open reparse point h.
func reparseOf(h windows.Handle) ([]byte, error) {
	buf := make([]byte, maxBackupReparse)
	var n uint32
	if err := windows.DeviceIoControl(h, windows.FSCTL_GET_REPARSE_POINT, nil, 0, &buf[0], uint32(len(buf)), &n, nil); err != nil {
		return nil, fmt.Errorf("reparse point: %w", err)
	}
	return buf[:n], nil
}

// namedStream is one named data stream of a file: its section name
// (":NAME:$DATA"), the path that opens it, and its size.
type namedStream struct {
	name, path string
	size       int64
}

// findStreamData is WIN32_FIND_STREAM_DATA.
type findStreamData struct {
	size int64
	name [windows.MAX_PATH + 36]uint16
}

// namedStreams lists the named data streams of the file at path. A file
// system without named streams has none.
func namedStreams(path string) ([]namedStream, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, err
	}
	var fd findStreamData
	r, _, err := callProc(procFindFirstStream, uintptr(unsafe.Pointer(p)), 0, uintptr(unsafe.Pointer(&fd)), 0)
	if windows.Handle(r) == windows.InvalidHandle {
		if errors.Is(err, windows.ERROR_HANDLE_EOF) || noBackupAPI(err) || errors.Is(err, windows.ERROR_INVALID_PARAMETER) {
			return nil, nil
		}
		return nil, fmt.Errorf("list named streams: %w", err)
	}
	fh := windows.Handle(r)
	defer func() { _ = windows.FindClose(fh) }()
	var out []namedStream
	for {
		name := windows.UTF16ToString(fd.name[:])
		if s, ok := streamName(name); ok && !strings.HasPrefix(name, "::") {
			out = append(out, namedStream{name: name, path: path + ":" + s, size: fd.size})
		}
		if r, _, err := callProc(procFindNextStream, uintptr(fh), uintptr(unsafe.Pointer(&fd))); r == 0 {
			if errors.Is(err, windows.ERROR_HANDLE_EOF) {
				return out, nil
			}
			return out, fmt.Errorf("list named streams: %w", err)
		}
	}
}

// writePlain returns a writer that applies a backup stream to the open
// file h at path: sections are applied as they arrive, by a goroutine that
// Close waits for.
func writePlain(h windows.Handle, path string) *plainStream {
	pr, pw := io.Pipe()
	p := &plainStream{w: pw, done: make(chan error, 1)}
	go func() {
		err := applySections(h, path, &backupReader{r: pr})
		_ = pr.CloseWithError(err)
		p.done <- err
	}()
	return p
}

// applySections applies each section of b to the file h at path.
func applySections(h windows.Handle, path string, b *backupReader) error {
	for {
		hdr, err := b.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch hdr.ID {
		case backupReparse:
			buf, err := b.body(hdr, maxBackupReparse)
			if err != nil {
				return err
			}
			if len(buf) == 0 {
				return fmt.Errorf("%w: empty reparse section", errBackupFormat)
			}
			var n uint32
			if err := windows.DeviceIoControl(h, windows.FSCTL_SET_REPARSE_POINT, &buf[0], uint32(len(buf)), nil, 0, &n, nil); err != nil {
				return fmt.Errorf("reparse point: %w", err)
			}
		case backupData:
			if _, err := io.Copy(handleIO{h}, b); err != nil {
				return err
			}
		case backupAlternate:
			if err := writeNamed(path, hdr.Name, b); err != nil {
				return err
			}
		}
	}
}

// setSecurityParts gives h what it may of the checked descriptor sd: the
// whole, else fewer parts (setDescriptorParts). It returns the parts left
// out, and an error when not even the DACL could be set.
func setSecurityParts(h windows.Handle, sd []byte) (uint32, error) {
	what, err := checkDescriptor(sd)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errBackupFormat, err)
	}
	d := (*windows.SECURITY_DESCRIPTOR)(unsafe.Pointer(&sd[0]))
	dropped, err := setDescriptorParts(what, func(parts uint32) error {
		return windows.SetKernelObjectSecurity(h, windows.SECURITY_INFORMATION(parts), d)
	})
	if err != nil {
		return dropped, fmt.Errorf("security descriptor: %w", err)
	}
	return dropped, nil
}

// writeNamed writes the named stream of section name (":NAME:$DATA") of the
// file at path from r.
func writeNamed(path, section string, r io.Reader) error {
	name, ok := streamName(section)
	if !ok {
		return fmt.Errorf("%w: stream section named %q", errBackupFormat, section)
	}
	sh, err := openBackup(path+":"+name, true, windows.CREATE_ALWAYS)
	if err != nil {
		return fmt.Errorf("named stream %s: %w", name, err)
	}
	_, err = io.Copy(handleIO{sh}, r)
	if cerr := windows.CloseHandle(sh); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("named stream %s: %w", name, err)
	}
	return nil
}

// handleIO reads and writes an open file handle at its file position.
type handleIO struct{ h windows.Handle }

func (f handleIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n uint32
	if err := windows.ReadFile(f.h, p, &n, nil); err != nil {
		return int(n), err
	}
	if n == 0 {
		return 0, io.EOF
	}
	return int(n), nil
}

func (f handleIO) Write(p []byte) (int, error) {
	var n uint32
	err := windows.WriteFile(f.h, p, &n, nil)
	if err == nil && int(n) < len(p) {
		err = io.ErrShortWrite
	}
	return int(n), err
}
