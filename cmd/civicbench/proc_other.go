//go:build !linux

package main

import "syscall"

// childAttr has nothing to add outside Linux; the measurements read
// /proc, so civicbench reports an error there.
func childAttr() *syscall.SysProcAttr { return nil }
