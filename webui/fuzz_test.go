package webui

import (
	"reflect"
	"testing"
)

// FuzzParseRequest feeds arbitrary frames to the request decoder and to
// every params struct. It must never panic, and must either reject a frame
// with a code from the fixed list or return a well-formed request.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"type":"whoami"}`,
		`{"id":2,"type":"users.create","username":"a","role":"admin","password":"x"}`,
		`{"id":3,"type":"subscribe","topics":["users","system"]}`,
		`{"id":"1","type":1}`, `{"id":1e99}`, `{"id":-1}`, `[]`, `null`, `{`, ``, `{"id":9223372036854775807,"type":"ping"}`,
		`{"id":4,"type":"audit.list","limit":"x","since":[]}`,
	} {
		f.Add([]byte(s), int64(0))
	}
	codes := map[string]bool{}
	for _, c := range ErrorCodes {
		codes[c] = true
	}
	f.Fuzz(func(t *testing.T, data []byte, lastID int64) {
		req, id, werr := parseRequest(data, lastID)
		if werr != nil {
			if !codes[werr.Code] {
				t.Fatalf("code %q is not in ErrorCodes", werr.Code)
			}
			return
		}
		if req.ID <= lastID || req.ID != id || req.Type == "" {
			t.Fatalf("accepted a bad request: %+v (lastID %d)", req, lastID)
		}
		for _, m := range Messages {
			if m.Params == nil {
				continue
			}
			p := reflect.New(reflect.TypeOf(m.Params)).Interface()
			if err := req.decode(p); err != nil {
				if ae, ok := err.(*apiError); !ok || !codes[ae.code] {
					t.Fatalf("decode %s: error %v is not an API error with a listed code", m.Type, err)
				}
			}
		}
	})
}
