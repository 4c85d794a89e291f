//go:build !linux

package miniotest

import "syscall"

// sysProcAttr returns nil: outside Linux a server is stopped only by the
// test's cleanup, so a test binary that is killed leaves it running.
func sysProcAttr() *syscall.SysProcAttr { return nil }
