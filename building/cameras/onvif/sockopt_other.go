//go:build !linux

package onvif

import "syscall"

// multicastIfControl does nothing here: binding to the interface's
// address (see listenDiscovery) is what picks the interface on these
// platforms.
func multicastIfControl(int) func(network, address string, c syscall.RawConn) error {
	return nil
}
