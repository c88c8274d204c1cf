package main

import "syscall"

// childAttr makes the kernel kill the daemon if this process dies without
// cleaning up (kill -9, a crash).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
