// Package syncbuf is a text buffer that several goroutines may write
// while another reads it: a child process's stdout and stderr as test
// helpers collect them (baresip, the GStreamer camera).
package syncbuf

import (
	"strings"
	"sync"
)

// Buffer collects writes; its zero value is ready to use.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write appends p; it never fails.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
