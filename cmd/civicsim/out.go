package main

import (
	"bufio"
	"encoding/json"
	"io"
	"sync"
	"time"
)

// printer writes one JSON object per line: {"ts":...,"event":...,...}.
// It is safe for concurrent use; each line is flushed at once so a test
// reading the pipe sees it.
type printer struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func newPrinter(w io.Writer) *printer { return &printer{w: bufio.NewWriter(w)} }

// emit prints an event with key-value pairs (keys are strings).
func (p *printer) emit(event string, kv ...any) {
	m := make(map[string]any, len(kv)/2+2)
	m["ts"] = time.Now().Format(time.RFC3339Nano)
	m["event"] = event
	for i := 0; i+1 < len(kv); i += 2 {
		if k, ok := kv[i].(string); ok {
			if err, isErr := kv[i+1].(error); isErr {
				m[k] = err.Error()
			} else {
				m[k] = kv[i+1]
			}
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		b = []byte(`{"event":"error","error":"unprintable event"}`)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = p.w.Write(b)
	_ = p.w.WriteByte('\n')
	_ = p.w.Flush()
}
