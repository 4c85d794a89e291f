package miniotest

import "syscall"

// sysProcAttr has the kernel kill a server when the test binary dies, so
// that no server outlives an interrupted or crashed test run.
//
// Linux sends the signal when the OS thread that started the child exits,
// not the whole process; the Go runtime keeps its threads alive unless a
// goroutine exits while locked to one with runtime.LockOSThread, which
// no test here does.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
