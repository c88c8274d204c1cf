package webui

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"civic/internal/auth"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// TestProtocolErrors sends each kind of bad message and checks the
// documented error or close code. After each one the server still answers.
func TestProtocolErrors(t *testing.T) {
	ts := newTestServer(t)
	token := ts.login(auth.RoleAdmin)
	tests := []struct {
		name   string
		prep   func(c *wsClient) // earlier traffic on the same connection
		send   string
		code   string
		wantID float64
	}{
		{name: "malformed JSON", send: `{"id":1,"type":`, code: CodeInvalidFormat},
		{name: "not an object", send: `[1,2,3]`, code: CodeInvalidFormat},
		{name: "missing id", send: `{"type":"whoami"}`, code: CodeMissingID},
		{name: "zero id", send: `{"id":0,"type":"whoami"}`, code: CodeMissingID},
		{name: "string id", send: `{"id":"7","type":"whoami"}`, code: CodeMissingID},
		{name: "missing type", send: `{"id":3}`, code: CodeInvalidFormat, wantID: 3},
		{name: "unknown type", send: `{"id":4,"type":"door.explode"}`, code: CodeUnknownType, wantID: 4},
		{name: "auth after auth", send: `{"id":4,"type":"auth"}`, code: CodeUnknownType, wantID: 4},
		{
			name: "reused id",
			prep: func(c *wsClient) {
				c.writeRaw([]byte(`{"id":5,"type":"whoami"}`))
				c.resultFor(5)
			},
			send: `{"id":5,"type":"whoami"}`, code: CodeIDReuse, wantID: 5,
		},
		{name: "wrong param type", send: `{"id":6,"type":"users.create","username":42}`, code: CodeInvalidParams, wantID: 6},
		{name: "invalid param value", send: `{"id":6,"type":"users.create","username":"x y","role":"official","password":"long-enough-pw"}`, code: CodeInvalidParams, wantID: 6},
		{name: "bad role", send: `{"id":6,"type":"users.create","username":"xy","role":"mayor","password":"long-enough-pw"}`, code: CodeInvalidParams, wantID: 6},
		{name: "unknown topic", send: `{"id":6,"type":"subscribe","topics":["nope"]}`, code: CodeInvalidParams, wantID: 6},
		{name: "bad time", send: `{"id":6,"type":"audit.list","since":"yesterday"}`, code: CodeInvalidParams, wantID: 6},
		{name: "unknown user", send: `{"id":6,"type":"users.delete","user_id":99999}`, code: CodeNotFound, wantID: 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ts.connect(token)
			if tt.prep != nil {
				tt.prep(c)
			}
			c.writeRaw([]byte(tt.send))
			m := c.readMsg()
			if m["type"] != TypeResult || m["success"] != false || errCode(m) != tt.code {
				t.Fatalf("got %v, want error %s", m, tt.code)
			}
			if id, _ := m["id"].(float64); id != tt.wantID {
				t.Fatalf("reply id = %v, want %v", m["id"], tt.wantID)
			}
			// The connection still works.
			c.writeRaw([]byte(`{"id":100,"type":"whoami"}`))
			if r := c.resultFor(100); r["success"] != true {
				t.Fatalf("whoami after error: %v", r)
			}
		})
	}
}

func TestOversizedFrameCloses1009(t *testing.T) {
	ts := newTestServer(t, func(o *Options) { o.MaxMessageBytes = 4096 })
	c := ts.connect(ts.login(auth.RoleAdmin))
	big := `{"id":1,"type":"whoami","pad":"` + strings.Repeat("x", 8192) + `"}`
	c.writeRaw([]byte(big))
	if code := c.closeCode(); code != CloseTooBig {
		t.Fatalf("close code = %d, want %d", code, CloseTooBig)
	}
	// Other clients are unaffected.
	c2 := ts.connect(ts.login(auth.RoleAdmin))
	if r := c2.request(TypeWhoami, nil); r["success"] != true {
		t.Fatalf("whoami on a new connection: %v", r)
	}
}

func TestFloodIsRateLimitedThenClosed(t *testing.T) {
	ts := newTestServer(t, func(o *Options) { o.Rate = 1; o.Burst = 5 })
	c := ts.connect(ts.login(auth.RoleAdmin))
	limited := 0
	for i := int64(1); i <= 200; i++ {
		b, _ := json.Marshal(map[string]any{"id": i, "type": TypeWhoami})
		if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
			break // the server closed on us
		}
	}
	for {
		b, err := c.readRaw()
		if err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != ClosePolicy {
				t.Fatalf("flood ended with %v, want close %d", err, ClosePolicy)
			}
			break
		}
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		if errCode(m) == CodeRateLimited {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("no rate_limited reply before the close")
	}
}

func TestAuthHandshake(t *testing.T) {
	ts := newTestServer(t)
	tests := []struct {
		name string
		send string
	}{
		{"bad token", `{"type":"auth","token":"nope"}`},
		{"no token, no cookie", `{"type":"auth"}`},
		{"request before auth", `{"id":1,"type":"whoami"}`},
		{"garbage", `}{`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ts.dial(nil)
			c.writeRaw([]byte(tt.send))
			if m := c.readMsg(); m["type"] != TypeAuthInvalid {
				t.Fatalf("got %v, want auth_invalid", m)
			}
			if code := c.closeCode(); code != ClosePolicy {
				t.Fatalf("close = %d, want %d", code, ClosePolicy)
			}
		})
	}
	t.Run("cookie", func(t *testing.T) {
		h := http.Header{}
		h.Set("Cookie", sessionCookie+"="+ts.login(auth.RoleOfficial))
		c := ts.dial(h)
		c.writeRaw([]byte(`{"type":"auth"}`))
		if m := c.readMsg(); m["type"] != TypeAuthOK || m["role"] != "official" {
			t.Fatalf("got %v, want auth_ok as official", m)
		}
	})
}

func TestOriginCheck(t *testing.T) {
	ts := newTestServer(t, func(o *Options) { o.AllowedOrigins = []string{"https://console.example"} })
	url := "ws" + strings.TrimPrefix(ts.base, "http") + "/api/ws"
	host := strings.TrimPrefix(ts.base, "http://")
	tests := []struct {
		origin string
		want   int
	}{
		{"http://" + host, http.StatusSwitchingProtocols},
		{"https://console.example", http.StatusSwitchingProtocols},
		{"https://evil.example", http.StatusForbidden},
		{"http://127.0.0.1:1", http.StatusForbidden},
	}
	for _, tt := range tests {
		h := http.Header{}
		h.Set("Origin", tt.origin)
		ws, resp, err := websocket.DefaultDialer.Dial(url, h)
		if ws != nil {
			ws.Close()
		}
		if resp == nil {
			t.Fatalf("origin %s: no response: %v", tt.origin, err)
		}
		if resp.StatusCode != tt.want {
			t.Errorf("origin %s: status %d, want %d", tt.origin, resp.StatusCode, tt.want)
		}
	}
}

// TestGoldenMessages checks the JSON of every message type against
// testdata/golden/<type>.json, with volatile values (times, ids, tokens)
// replaced. Run with -update to rewrite them after a deliberate change.
func TestGoldenMessages(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.connect(ts.login(auth.RoleAdmin))
	var msgs = map[string][]byte{}
	record := func(name string, m map[string]any) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(normalise(m)); err != nil {
			t.Fatal(err)
		}
		msgs[name] = buf.Bytes()
	}

	c := ts.dial(nil)
	record(TypeAuthRequired, c.first)
	c.writeRaw([]byte(`{"type":"auth","token":"bad"}`))
	record(TypeAuthInvalid, c.readMsg())
	c2 := ts.dial(nil)
	c2.writeJSON(map[string]any{"type": TypeAuth, "token": ts.login(auth.RoleOfficial)})
	record(TypeAuthOK, c2.readMsg())

	admin.writeRaw([]byte(`{"id":1,"type":"ping"}`))
	record(TypePong, admin.readMsg())
	record(TypeWhoami, admin.request(TypeWhoami, nil))
	record(TypeSystemStatus, admin.request(TypeSystemStatus, nil))
	record(TypeUsersList, admin.request(TypeUsersList, nil))
	created := admin.request(TypeUsersCreate, map[string]any{"username": "guard1", "display_name": "Guard One", "role": "facilities", "password": "guard-password-1", "language": "zh-CN"})
	record(TypeUsersCreate, created)
	uid := created["result"].(map[string]any)["user"].(map[string]any)["id"]
	record(TypeUsersUpdate, admin.request(TypeUsersUpdate, map[string]any{"user_id": uid, "disabled": true}))
	record(TypeUsersResetPassword, admin.request(TypeUsersResetPassword, map[string]any{"user_id": uid, "password": "another-password"}))
	record(TypeUsersDelete, admin.request(TypeUsersDelete, map[string]any{"user_id": uid}))
	record(TypeAuditList, admin.request(TypeAuditList, map[string]any{"action": "users.", "limit": 2}))
	sub := admin.request(TypeSubscribe, map[string]any{"topics": []string{TopicUsers}})
	record(TypeSubscribe, sub)
	record(TypeEvent+".snapshot", admin.readMsg())
	// The event and the result of the create race; read until both came.
	admin.nextID++
	admin.writeJSON(map[string]any{"id": admin.nextID, "type": TypeUsersCreate, "username": "clerk", "role": "official", "password": "clerk-password"})
	for gotEvent, gotResult := false, false; !gotEvent || !gotResult; {
		m := admin.readMsg()
		switch m["type"] {
		case TypeEvent:
			record(TypeEvent+".user.created", m)
			gotEvent = true
		case TypeResult:
			gotResult = true
		}
	}
	record(TypeUnsubscribe, admin.request(TypeUnsubscribe, map[string]any{"subscription": sub["id"]}))
	record(TypeAccountChangePassword, admin.request(TypeAccountChangePassword, map[string]any{"current": "wrong", "new": "whatever-else"}))
	meeting := admin.request(TypeConferenceCreate, map[string]any{"title": "Budget review"})
	record(TypeConferenceCreate, meeting)
	room := meeting["result"].(map[string]any)["meeting"].(map[string]any)["room"]
	record(TypeConferenceList, admin.request(TypeConferenceList, nil))
	joined := admin.request(TypeConferenceJoin, map[string]any{"room": room})
	record(TypeConferenceJoin, joined)
	self := joined["result"].(map[string]any)["participant_id"]
	record(TypeConferenceChat, admin.request(TypeConferenceChat, map[string]any{"text": "会议开始"}))
	record(TypeConferenceHand, admin.request(TypeConferenceHand, map[string]any{"raised": true}))
	record(TypeConferenceView, admin.request(TypeConferenceView, map[string]any{"views": []any{map[string]any{"stream": "abc", "width": 640, "height": 360}}, "max_bitrate": 800000}))
	record(TypeConferenceMute, admin.request(TypeConferenceMute, map[string]any{"participant_id": self, "muted": true}))
	record(TypeConferenceMuteAll, admin.request(TypeConferenceMuteAll, nil))
	record(TypeConferenceLock, admin.request(TypeConferenceLock, map[string]any{"locked": true}))
	record(TypeConferenceInvite, admin.request(TypeConferenceInvite, map[string]any{"room": room, "ttl_hours": 48}))
	record(TypeConferenceLobby, admin.request(TypeConferenceLobby, map[string]any{"enabled": true}))
	record(TypeConferenceAdmit, admin.request(TypeConferenceAdmit, map[string]any{"guest_id": "nobody"}))
	record(TypeConferenceDeny, admin.request(TypeConferenceDeny, map[string]any{"guest_id": "nobody"}))
	dialed := admin.request(TypeConferenceDialOut, map[string]any{"number": "1002"})
	record(TypeConferenceDialOut, dialed)
	for {
		m := admin.nextEvent(KindDialOutState)
		if got, _ := m["id"].(float64); got == dialed["id"].(float64) && eventData(m)["state"] == "answered" {
			record(TypeEvent+"."+KindDialOutState, m)
			break
		}
	}
	recordSoftphoneGoldens(t, ts, record)
	record(TypeConferenceRemove, admin.request(TypeConferenceRemove, map[string]any{"participant_id": "nobody"}))
	record(TypeWebRTCRestart, admin.request(TypeWebRTCRestart, nil))
	record(TypeConferenceRejoin, admin.request(TypeConferenceRejoin, map[string]any{"participant_id": "gone"}))
	record(TypeWebRTCOffer, admin.request(TypeWebRTCOffer, map[string]any{"sdp": testOffer(t)}))
	record(TypeWebRTCAnswer, admin.request(TypeWebRTCAnswer, map[string]any{"sdp": "v=0"})) // no offer is waiting
	record(TypeWebRTCCandidate, admin.request(TypeWebRTCCandidate, map[string]any{"pc": "publish", "candidate": map[string]any{"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}}))
	record(TypeConferenceLeave, admin.request(TypeConferenceLeave, nil))
	record(TypeConferenceEnd, admin.request(TypeConferenceEnd, map[string]any{"room": room}))
	record(TypeExtensionsCreate, admin.request(TypeExtensionsCreate, map[string]any{"number": "1001", "name": "前台 Reception", "department": "Front office", "user": "u-official", "password": "desk-phone-secret"}))
	record(TypeExtensionsUpdate, admin.request(TypeExtensionsUpdate, map[string]any{"number": "1001", "name": "前台 Reception", "department": "Front office", "forward_no_answer": "600", "no_answer_seconds": 20, "dnd": true}))
	record(TypeExtensionsList, admin.request(TypeExtensionsList, nil))
	record(TypeRingGroupsCreate, admin.request(TypeRingGroupsCreate, map[string]any{"number": "600", "name": "Facilities desk", "strategy": "all", "members": []string{"1001"}, "ring_seconds": 30}))
	record(TypeRingGroupsUpdate, admin.request(TypeRingGroupsUpdate, map[string]any{"number": "600", "name": "Facilities desk", "strategy": "order", "members": []string{"1001"}, "ring_seconds": 20}))
	record(TypeRingGroupsList, admin.request(TypeRingGroupsList, nil))
	phones := ts.connect(ts.login(auth.RoleFacilities))
	phones.request(TypeSubscribe, map[string]any{"topics": []string{TopicPhones}})
	record(TypeEvent+".voip.phones.snapshot", phones.readMsg())
	ts.phones.register("1001", "sip:1001@127.0.0.1:5062", "Yealink SIP-T54W")
	record(TypeEvent+".voip.phone_online", phones.readMsg())
	// A call to ring group 600 rings 1002; facilities watch it, an admin
	// hangs it up.
	ts.phones.startCall("b2b-7f3a9c", "1001", "600", "1002")
	record(TypeCallsList, admin.request(TypeCallsList, nil))
	phones.request(TypeSubscribe, map[string]any{"topics": []string{TopicCalls}})
	record(TypeEvent+".voip.calls.snapshot", phones.readMsg())
	ts.phones.answerCall("b2b-7f3a9c")
	record(TypeEvent+".voip.call_changed", phones.readMsg())
	admin.request(TypeSubscribe, map[string]any{"topics": []string{TopicDTMF}})
	ts.phones.pressKey("b2b-7f3a9c", "1002", "#")
	record(TypeEvent+".voip.dtmf", admin.readMsg())
	record(TypeCallsHangup, admin.request(TypeCallsHangup, map[string]any{"call_id": "b2b-7f3a9c"}))
	record(TypeEvent+".voip.call_ended", phones.readMsg())
	record(TypeRecordsList, admin.request(TypeRecordsList, map[string]any{"extension": "1002", "result": "answered", "from": "2026-03-02T00:00:00+08:00", "to": "2026-03-03T00:00:00+08:00", "limit": 20}))
	record(TypeRingGroupsDelete, admin.request(TypeRingGroupsDelete, map[string]any{"number": "600"}))
	record(TypeExtensionsDelete, admin.request(TypeExtensionsDelete, map[string]any{"number": "1001"}))
	recordBuildingGoldens(t, ts, record)
	recordCameraGoldens(t, ts, record)
	record(TypeSessionLogout, admin.request(TypeSessionLogout, nil))
	record("error.unknown_type", func() map[string]any {
		c := ts.connect(ts.login(auth.RoleAdmin))
		return c.request("nope", nil)
	}())

	for _, m := range Messages {
		if _, ok := msgs[m.Type]; !ok && m.Type != TypePing {
			t.Errorf("no golden message for %s", m.Type)
		}
	}
	for name, got := range msgs {
		path := filepath.Join("testdata", "golden", name+".json")
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v (run go test -run TestGoldenMessages -update)", name, err)
			continue
		}
		if string(got) != string(want) {
			t.Errorf("%s differs from %s:\ngot:\n%s\nwant:\n%s", name, path, got, want)
		}
	}
}

// normalise replaces values that differ from run to run, and writes times
// in UTC.
func normalise(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			switch {
			case k == "at" || strings.HasSuffix(k, "_at") || k == "uptime_s" || k == "go_version" || k == "seq" || k == "source" ||
				k == "room" || k == "sdp" || k == "participant_id" || k == "token" || k == "url" || k == "path" ||
				runVaries[k]:
				out[k] = "<" + k + ">"
			case (k == "id" || k == "next_before_id" || k == "user_id") && isNumber(val):
				out[k] = "<" + k + ">"
			case (k == "id" || k == "command_id") && isCommandID(val):
				out[k] = "<command_id>"
			default:
				out[k] = normalise(val)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = normalise(x[i])
		}
		return out
	case string:
		if t, ok := normaliseTime(x); ok {
			return t
		}
	}
	return v
}

func isNumber(v any) bool { _, ok := v.(float64); return ok }

func isCommandID(v any) bool { s, ok := v.(string); return ok && commandID.MatchString(s) }

// TestProtocolTablesAgree fails when protocol.go, static/js/protocol.js and
// docs/console-protocol.md disagree about types, topics or codes.
func TestProtocolTablesAgree(t *testing.T) {
	js, err := os.ReadFile(filepath.Join("static", "js", "protocol.js"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "docs", "console-protocol.md"))
	if err != nil {
		t.Fatal(err)
	}
	var goReq []string
	goReq = append(goReq, TypeAuth)
	for _, m := range Messages {
		goReq = append(goReq, m.Type)
	}
	goServer := []string{TypeAuthRequired, TypeAuthOK, TypeAuthInvalid, TypeResult, TypeEvent, TypePong}
	var goTopics []string
	for _, tp := range Topics {
		goTopics = append(goTopics, tp.Topic)
	}
	var goClose []string
	for _, c := range CloseCodes {
		goClose = append(goClose, strconv.Itoa(c))
	}
	check := func(what string, goVals, jsVals []string) {
		t.Helper()
		a, b := slices.Clone(goVals), slices.Clone(jsVals)
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			t.Errorf("%s: protocol.go has %v, protocol.js has %v", what, a, b)
		}
	}
	check("REQUEST_TYPES", goReq, jsObject(t, js, "REQUEST_TYPES"))
	check("SERVER_TYPES", goServer, jsObject(t, js, "SERVER_TYPES"))
	check("ERROR_CODES", ErrorCodes, jsObject(t, js, "ERROR_CODES"))
	check("TOPICS", goTopics, jsObject(t, js, "TOPICS"))
	check("CLOSE_CODES", goClose, jsObject(t, js, "CLOSE_CODES"))

	// The doc names every type, topic and code in backticks, and every
	// request type with its roles in the request table.
	docText := string(doc)
	for _, group := range [][]string{goReq, goServer, ErrorCodes, goTopics, goClose} {
		for _, v := range group {
			if !strings.Contains(docText, "`"+v+"`") {
				t.Errorf("docs/console-protocol.md does not mention `%s`", v)
			}
		}
	}
	section := docSection(t, docText, "## Requests")
	rows := regexp.MustCompile("(?m)^\\| `([a-z_.]+)` \\| ([a-z, ]+) \\|").FindAllStringSubmatch(section, -1)
	docRoles := map[string]string{}
	for _, r := range rows {
		docRoles[r[1]] = strings.TrimSpace(r[2])
	}
	for _, m := range Messages {
		var names []string
		for _, r := range m.Roles {
			names = append(names, string(r))
		}
		if got, want := docRoles[m.Type], strings.Join(names, ", "); got != want {
			t.Errorf("docs/console-protocol.md: roles of `%s` = %q, want %q", m.Type, got, want)
		}
	}
	for typ := range docRoles {
		if _, ok := messageSpec(typ); !ok {
			t.Errorf("docs/console-protocol.md lists request `%s`, which protocol.go does not have", typ)
		}
	}
}

// docSection returns the text from a heading to the next heading of the
// same level.
func docSection(t *testing.T, doc, heading string) string {
	t.Helper()
	i := strings.Index(doc, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("docs/console-protocol.md has no %q section", heading)
	}
	rest := doc[i+len(heading)+2:]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// jsObject returns the values of `export const NAME = Object.freeze({...})`.
func jsObject(t *testing.T, js []byte, name string) []string {
	t.Helper()
	re := regexp.MustCompile(`(?s)export const ` + name + ` = Object\.freeze\(\{(.*?)\}\)`)
	m := re.FindSubmatch(js)
	if m == nil {
		t.Fatalf("protocol.js has no %s", name)
	}
	var out []string
	for _, v := range regexp.MustCompile(`:\s*("([^"]*)"|(\d+))`).FindAllSubmatch(m[1], -1) {
		if len(v[2]) > 0 {
			out = append(out, string(v[2]))
		} else {
			out = append(out, string(v[3]))
		}
	}
	return out
}
