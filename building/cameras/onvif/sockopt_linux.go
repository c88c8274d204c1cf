package onvif

import "syscall"

// multicastIfControl sets IP_MULTICAST_IF to an interface by index, so
// multicast leaves through it even when the routing table says otherwise.
func multicastIfControl(index int) func(network, address string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptIPMreqn(int(fd), syscall.IPPROTO_IP, syscall.IP_MULTICAST_IF,
				&syscall.IPMreqn{Ifindex: int32(index)})
		})
		if err != nil {
			return err
		}
		return serr
	}
}
