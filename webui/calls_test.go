package webui

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"civic/internal/audit"
	"civic/internal/auth"
	"civic/voip"
	"civic/voip/b2bua"
)

// fakeCallStart is when the fake's calls start: a fixed time, so golden
// files do not change from run to run.
var fakeCallStart = time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)

func (f *fakePhones) Calls() []voip.Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakePhones) Hangup(_ context.Context, id string) error {
	if _, ok := f.endCall(id, ""); !ok {
		return fmt.Errorf("%w: no live call %q", voip.ErrNotFound, id)
	}
	return nil
}

// CallRecords filters the way voip documents RecordFilter.
func (f *fakePhones) CallRecords(_ context.Context, flt voip.RecordFilter) ([]voip.CallRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	limit := flt.Limit
	if limit <= 0 || limit > voip.MaxRecords {
		limit = voip.MaxRecords
	}
	out := []voip.CallRecord{}
	for _, r := range slices.Backward(f.records) {
		switch {
		case flt.Extension != "" && r.Caller != flt.Extension && r.Callee != flt.Extension && r.FinalTarget != flt.Extension,
			flt.Result != "" && r.Result != flt.Result,
			!flt.From.IsZero() && r.Started.Before(flt.From),
			!flt.To.IsZero() && !r.Started.Before(flt.To):
			continue
		}
		if len(out) == limit {
			break
		}
		out = append(out, r)
	}
	return out, nil
}

// startCall makes a call from caller ring target (the number dialled,
// callee, after forwarding), as an INVITE would, and announces it.
func (f *fakePhones) startCall(id, caller, callee, target string) {
	c := voip.Call{ID: id, Caller: caller, Callee: callee, Target: target, State: b2bua.StateRinging, Started: fakeCallStart}
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	f.bus.Publish(voip.CallEvent{Kind: voip.KindCallChanged, Call: c})
}

// answerCall answers a ringing call 5 s after it started.
func (f *fakePhones) answerCall(id string) {
	f.mu.Lock()
	i := slices.IndexFunc(f.calls, func(c voip.Call) bool { return c.ID == id })
	c := &f.calls[i]
	c.State, c.Answered, c.Codec = b2bua.StateAnswered, c.Started.Add(5*time.Second), "PCMU"
	call := *c
	f.mu.Unlock()
	f.bus.Publish(voip.CallEvent{Kind: voip.KindCallChanged, Call: call})
}

// endCall ends a live call, 65 s after it was answered or 10 s after it
// started ringing, stores its record and announces both. An empty result
// is "answered" for an answered call, else "cancelled".
func (f *fakePhones) endCall(id, result string) (voip.CallRecord, bool) {
	f.mu.Lock()
	i := slices.IndexFunc(f.calls, func(c voip.Call) bool { return c.ID == id })
	if i < 0 {
		f.mu.Unlock()
		return voip.CallRecord{}, false
	}
	c := f.calls[i]
	f.calls = slices.Delete(f.calls, i, i+1)
	rec := voip.CallRecord{ID: int64(len(f.records) + 1), CallID: c.ID, Caller: c.Caller, Callee: c.Callee, FinalTarget: c.Target,
		Started: c.Started, Answered: c.Answered, Result: result, Codec: c.Codec, CallerTransport: "udp"}
	if c.Answered.IsZero() {
		rec.Ended = c.Started.Add(10 * time.Second)
		if rec.Result == "" {
			rec.Result = b2bua.ResultCancelled
		}
	} else {
		rec.Ended = c.Answered.Add(65 * time.Second)
		rec.DurationMS = 65000
		rec.CalleeTransport, rec.RTPFromCaller, rec.RTPFromCallee = "udp", 3250, 3248
		if rec.Result == "" {
			rec.Result = b2bua.ResultAnswered
		}
	}
	f.records = append(f.records, rec)
	f.mu.Unlock()
	c.State = b2bua.StateEnded
	f.bus.Publish(voip.CallEvent{Kind: voip.KindCallEnded, Call: c, Record: &rec})
	return rec, true
}

// addRecord stores a finished call's record, giving it the next id.
func (f *fakePhones) addRecord(r voip.CallRecord) voip.CallRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	r.ID = int64(len(f.records) + 1)
	f.records = append(f.records, r)
	return r
}

// pressKey announces a key pressed in a call, as voip does.
func (f *fakePhones) pressKey(callID, ext, digit string) {
	f.bus.Publish(voip.DTMFEvent{CallID: callID, Extension: ext, Digit: digit})
}

// nextEvent reads until an event of kind comes and returns its message.
func (c *wsClient) nextEvent(kind string) map[string]any {
	c.t.Helper()
	for {
		m := c.readMsg()
		if e, _ := m["event"].(map[string]any); e != nil && e["kind"] == kind {
			return m
		}
	}
}

// eventData is the data of an event message.
func eventData(m map[string]any) map[string]any {
	return m["event"].(map[string]any)["data"].(map[string]any)
}

// TestCallsTopicAndHangup: facilities staff watch the live calls (a
// snapshot, then each change), may not hang up, and see the call end when
// an admin hangs it up; the hang-up is audited with who was on the call.
func TestCallsTopicAndHangup(t *testing.T) {
	ts := newTestServer(t)
	ts.phones.startCall("c-old", "1003", "1004", "1004")

	watcher := ts.connect(ts.login(auth.RoleFacilities))
	sub := watcher.request(TypeSubscribe, map[string]any{"topics": []string{TopicCalls}})
	if errCode(sub) != "" {
		t.Fatalf("subscribe: %v", sub)
	}
	snap := watcher.readMsg()
	if ev := snap["event"].(map[string]any); ev["topic"] != TopicCalls || ev["kind"] != kindSnapshot {
		t.Fatalf("first event = %v, want the calls snapshot", snap)
	}
	if calls := eventData(snap)["calls"].([]any); len(calls) != 1 || calls[0].(map[string]any)["id"] != "c-old" {
		t.Fatalf("snapshot calls = %v, want c-old", calls)
	}

	ts.phones.startCall("c-1", "1001", "600", "1002")
	ring := eventData(watcher.nextEvent(voip.KindCallChanged))["call"].(map[string]any)
	if ring["id"] != "c-1" || ring["state"] != "ringing" || ring["target"] != "1002" || ring["answered"] != nil {
		t.Fatalf("ringing event call = %v", ring)
	}
	ts.phones.answerCall("c-1")
	if call := eventData(watcher.nextEvent(voip.KindCallChanged))["call"].(map[string]any); call["state"] != "answered" || call["codec"] != "PCMU" {
		t.Fatalf("answered event call = %v", call)
	}

	list := watcher.request(TypeCallsList, nil)
	calls, _ := list["result"].(map[string]any)["calls"].([]any)
	if len(calls) != 2 || calls[0].(map[string]any)["id"] != "c-old" || calls[1].(map[string]any)["id"] != "c-1" {
		t.Fatalf("calls list = %v, want c-old then c-1", list)
	}

	if res := watcher.request(TypeCallsHangup, map[string]any{"call_id": "c-1"}); errCode(res) != CodeNotAllowed {
		t.Fatalf("facilities hang-up: %v, want not_allowed", res)
	}
	if len(ts.phones.Calls()) != 2 {
		t.Fatal("a refused hang-up ended the call")
	}
	official := ts.connect(ts.login(auth.RoleOfficial))
	for _, typ := range []string{TypeCallsList, TypeCallsHangup} {
		if res := official.request(typ, map[string]any{"call_id": "c-1"}); errCode(res) != CodeNotAllowed {
			t.Errorf("official %s: %v, want not_allowed", typ, res)
		}
	}
	if res := official.request(TypeSubscribe, map[string]any{"topics": []string{TopicCalls}}); errCode(res) != CodeNotAllowed {
		t.Errorf("official subscribes to calls: %v, want not_allowed", res)
	}

	admin := ts.connect(ts.login(auth.RoleAdmin))
	mark := lastAuditID(t, ts)
	if res := admin.request(TypeCallsHangup, map[string]any{"call_id": "c-1"}); errCode(res) != "" {
		t.Fatalf("admin hang-up: %v", res)
	}
	ended := eventData(watcher.nextEvent(voip.KindCallEnded))
	if call := ended["call"].(map[string]any); call["id"] != "c-1" || call["state"] != "ended" {
		t.Fatalf("ended event call = %v", call)
	}
	if rec := ended["record"].(map[string]any); rec["result"] != "answered" || rec["final_target"] != "1002" || rec["duration_ms"] != float64(65000) {
		t.Fatalf("ended event record = %v", rec)
	}
	entries, _, err := ts.audit.List(context.Background(), audit.Filter{Action: TypeCallsHangup, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var ok audit.Entry
	for _, e := range entries {
		if e.ID > mark && e.Result == audit.ResultOK {
			ok = e
		}
	}
	if ok.Target != "call c-1" || ok.Detail != "caller 1001, callee 600, target 1002, answered" || ok.User != "u-admin" {
		t.Errorf("hang-up audit entry = %+v, want target call c-1 with caller, callee and target", ok)
	}
	if !slices.ContainsFunc(entries, func(e audit.Entry) bool { return e.Result == audit.ResultDenied && e.User == "u-facilities" }) {
		t.Errorf("the refused hang-up by facilities is not audited: %+v", entries)
	}

	tests := []struct {
		name   string
		params map[string]any
		code   string
		msg    string
	}{
		{"ended call", map[string]any{"call_id": "c-1"}, CodeNotFound, "no live call c-1"},
		{"no call id", map[string]any{}, CodeInvalidParams, "call_id"},
		{"call id not a string", map[string]any{"call_id": 7}, CodeInvalidParams, "call_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := admin.request(TypeCallsHangup, tt.params)
			if errCode(res) != tt.code {
				t.Fatalf("got %v, want %s", res, tt.code)
			}
			if msg := res["error"].(map[string]any)["message"].(string); !strings.Contains(msg, tt.msg) {
				t.Fatalf("message %q, want it to contain %q", msg, tt.msg)
			}
		})
	}
	failed, _, err := ts.audit.List(context.Background(), audit.Filter{Action: TypeCallsHangup, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(failed, func(e audit.Entry) bool { return e.Result == audit.ResultFailed && e.Target == "call c-1" }) {
		t.Errorf("the failed hang-up of an ended call is not audited: %+v", failed)
	}
}

// TestDTMFTopic: key presses reach admins as events, with no snapshot
// before them; nobody else may subscribe.
func TestDTMFTopic(t *testing.T) {
	ts := newTestServer(t)
	ts.phones.startCall("c-1", "1001", "1002", "1002")
	admin := ts.connect(ts.login(auth.RoleAdmin))
	sub := admin.request(TypeSubscribe, map[string]any{"topics": []string{TopicDTMF, TopicCalls}})
	if errCode(sub) != "" {
		t.Fatalf("subscribe: %v", sub)
	}
	if ev := admin.readMsg()["event"].(map[string]any); ev["topic"] != TopicCalls || ev["kind"] != kindSnapshot {
		t.Fatalf("first event %v, want the calls snapshot (dtmf has none)", ev)
	}
	ts.phones.pressKey("c-1", "1002", "5")
	m := admin.readMsg()
	ev := m["event"].(map[string]any)
	if ev["topic"] != TopicDTMF || ev["kind"] != voip.KindDTMF || m["id"] != sub["id"] {
		t.Fatalf("event after the key press = %v, want voip.dtmf on the subscription (and no snapshot before it)", m)
	}
	if d := ev["data"].(map[string]any); d["call_id"] != "c-1" || d["extension"] != "1002" || d["digit"] != "5" {
		t.Fatalf("dtmf data = %v", d)
	}
	for _, role := range []auth.Role{auth.RoleFacilities, auth.RoleOfficial} {
		if res := ts.connect(ts.login(role)).request(TypeSubscribe, map[string]any{"topics": []string{TopicDTMF}}); errCode(res) != CodeNotAllowed {
			t.Errorf("%s subscribes to dtmf: %v, want not_allowed", role, res)
		}
	}
}

// seedRecords stores four finished calls on two days.
func seedRecords(ts *testServer) {
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	for _, r := range []voip.CallRecord{
		{CallID: "r1", Caller: "1001", Callee: "1002", FinalTarget: "1002", Started: day.Add(9 * time.Hour), Result: "answered", DurationMS: 12500, Codec: "PCMU"},
		{CallID: "r2", Caller: "1002", Callee: "600", FinalTarget: "1003", Started: day.Add(10 * time.Hour), Result: "no_answer"},
		{CallID: "r3", Caller: "1003", Callee: "9999", Started: day.Add(11 * time.Hour), Result: "unknown_number"},
		{CallID: "r4", Caller: "1001", Callee: "1003", FinalTarget: "1003", Started: day.Add(33 * time.Hour), Result: "busy"},
	} {
		r.Ended = r.Started.Add(20 * time.Second)
		ts.phones.addRecord(r)
	}
}

// TestRecordsList: each filter selects what it says, newest first, and a
// bad filter gets invalid_params with a sentence naming it.
func TestRecordsList(t *testing.T) {
	ts := newTestServer(t)
	seedRecords(ts)
	admin := ts.connect(ts.login(auth.RoleAdmin))
	tests := []struct {
		name   string
		params map[string]any
		want   string // call ids, newest first
		code   string
		msg    string
	}{
		{name: "everything", params: nil, want: "r4 r3 r2 r1"},
		{name: "caller", params: map[string]any{"extension": "1001"}, want: "r4 r1"},
		{name: "dialled or final target", params: map[string]any{"extension": "1003"}, want: "r4 r3 r2"},
		{name: "ring group dialled", params: map[string]any{"extension": "600"}, want: "r2"},
		{name: "result", params: map[string]any{"result": "no_answer"}, want: "r2"},
		{name: "from", params: map[string]any{"from": "2026-03-02T10:00:00Z"}, want: "r4 r3 r2"},
		{name: "range, to excluded", params: map[string]any{"from": "2026-03-02T00:00:00+08:00", "to": "2026-03-02T19:00:00+08:00"}, want: "r2 r1"},
		{name: "limit", params: map[string]any{"limit": 2}, want: "r4 r3"},
		{name: "nothing matches", params: map[string]any{"extension": "4040"}, want: ""},
		{name: "extension with a space", params: map[string]any{"extension": "10 01"}, code: CodeInvalidParams, msg: "extension must be a number"},
		{name: "extension too long", params: map[string]any{"extension": strings.Repeat("1", 33)}, code: CodeInvalidParams, msg: "extension"},
		{name: "extension not a string", params: map[string]any{"extension": 1001}, code: CodeInvalidParams, msg: "extension"},
		{name: "unknown result", params: map[string]any{"result": "great"}, code: CodeInvalidParams, msg: "result must be one of answered, busy"},
		{name: "bad from", params: map[string]any{"from": "yesterday"}, code: CodeInvalidParams, msg: "from must be an RFC 3339 time"},
		{name: "bad to", params: map[string]any{"to": "2026-03-02"}, code: CodeInvalidParams, msg: "to must be an RFC 3339 time"},
		{name: "to before from", params: map[string]any{"from": "2026-03-03T00:00:00Z", "to": "2026-03-02T00:00:00Z"}, code: CodeInvalidParams, msg: "to must be later than from"},
		{name: "limit too big", params: map[string]any{"limit": 1001}, code: CodeInvalidParams, msg: "limit must be between 1 and 1000"},
		{name: "negative limit", params: map[string]any{"limit": -1}, code: CodeInvalidParams, msg: "limit must be between 1 and 1000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := admin.request(TypeRecordsList, tt.params)
			if errCode(res) != tt.code {
				t.Fatalf("got %v, want code %q", res, tt.code)
			}
			if tt.code != "" {
				if msg := res["error"].(map[string]any)["message"].(string); !strings.Contains(msg, tt.msg) {
					t.Fatalf("message %q, want it to contain %q", msg, tt.msg)
				}
				return
			}
			var ids []string
			for _, r := range res["result"].(map[string]any)["records"].([]any) {
				ids = append(ids, r.(map[string]any)["call_id"].(string))
			}
			if got := strings.Join(ids, " "); got != tt.want {
				t.Fatalf("records %q, want %q", got, tt.want)
			}
		})
	}
	for _, role := range []auth.Role{auth.RoleFacilities, auth.RoleOfficial} {
		if res := ts.connect(ts.login(role)).request(TypeRecordsList, nil); errCode(res) != CodeNotAllowed {
			t.Errorf("%s lists records: %v, want not_allowed", role, res)
		}
	}
}

// getWithCookie GETs path with a session cookie (none when token is "").
func (ts *testServer) getWithCookie(path, token string) (*http.Response, string) {
	ts.t.Helper()
	req, err := http.NewRequest(http.MethodGet, ts.base+path, nil)
	if err != nil {
		ts.t.Fatal(err)
	}
	if token != "" {
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: token})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestRecordsCSV: the export has the documented columns in order, one row
// per record the query selects, RFC 3339 times, and cells a phone chose
// defused against spreadsheet formulas. Only admins may export.
func TestRecordsCSV(t *testing.T) {
	ts := newTestServer(t)
	seedRecords(ts)
	started := time.Date(2026, 3, 4, 8, 0, 0, 0, time.UTC)
	evil := ts.phones.addRecord(voip.CallRecord{CallID: "@SUM(A1)", Caller: "1001", Callee: "=HYPERLINK(\"http://x\")", FinalTarget: "-1+2",
		Started: started, Answered: started.Add(3 * time.Second), Ended: started.Add(68*time.Second + 250*time.Millisecond), DurationMS: 65250,
		Result: "answered", Codec: "\tPCMU", CallerTransport: "udp", CalleeTransport: "tcp", RTPFromCaller: 3262, RTPFromCallee: 3260})
	admin := ts.login(auth.RoleAdmin)

	resp, body := ts.getWithCookie(RecordsCSVPath+"?extension=1001", admin)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" {
		t.Fatalf("export: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="call-records.csv"` {
		t.Errorf("Content-Disposition = %q", cd)
	}
	if !strings.HasPrefix(body, "\ufeff") {
		t.Error("no byte order mark")
	}
	rows, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(body, "\ufeff"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	wantHeader := "id,started,answered,ended,caller,callee,final_target,result,duration_s,codec,caller_transport,callee_transport,rtp_from_caller,rtp_from_callee,call_id"
	if len(rows) == 0 || strings.Join(rows[0], ",") != wantHeader {
		t.Fatalf("header %q, want %q", rows[:min(1, len(rows))], wantHeader)
	}
	if len(rows) != 4 {
		t.Fatalf("%d rows, want the header and 1001's three calls: %q", len(rows), rows)
	}
	got := rows[1]
	want := []string{fmt.Sprint(evil.ID), "2026-03-04T08:00:00Z", "2026-03-04T08:00:03Z", "2026-03-04T08:01:08Z", "1001",
		"'=HYPERLINK(\"http://x\")", "'-1+2", "answered", "65.250", "'\tPCMU", "udp", "tcp", "3262", "3260", "'@SUM(A1)"}
	if !slices.Equal(got, want) {
		t.Errorf("newest row\n got %q\nwant %q", got, want)
	}
	// The seed gives r1 no answer time: that cell is empty.
	if oldest := rows[3]; oldest[2] != "" || oldest[8] != "12.500" || oldest[14] != "r1" {
		t.Errorf("oldest row %q, want r1 with no answer time and 12.500 s", oldest)
	}

	q := url.Values{"result": {"busy"}, "from": {"2026-03-03T00:00:00Z"}, "to": {"2026-03-04T00:00:00Z"}}
	if _, body := ts.getWithCookie(RecordsCSVPath+"?"+q.Encode(), admin); strings.Count(body, "\n") != 2 || !strings.Contains(body, ",r4\n") {
		t.Errorf("filtered export = %q, want the header and r4", body)
	}
	if _, body := ts.getWithCookie(RecordsCSVPath+"?limit=1", admin); strings.Count(body, "\n") != 2 {
		t.Errorf("limit=1 export = %q, want the header and one row", body)
	}

	refusals := []struct {
		name   string
		query  string
		token  string
		status int
		code   string
		msg    string
	}{
		{"no session", "", "", http.StatusUnauthorized, CodeAuthFailed, "sign in"},
		{"facilities", "", ts.login(auth.RoleFacilities), http.StatusForbidden, CodeNotAllowed, "only admins"},
		{"official", "", ts.login(auth.RoleOfficial), http.StatusForbidden, CodeNotAllowed, "only admins"},
		{"bad result", "?result=great", admin, http.StatusBadRequest, CodeInvalidParams, "result must be one of"},
		{"bad time", "?from=today", admin, http.StatusBadRequest, CodeInvalidParams, "from must be an RFC 3339 time"},
		{"limit not a number", "?limit=all", admin, http.StatusBadRequest, CodeInvalidParams, "limit must be between 1 and 1000"},
		{"limit too big", "?limit=5000", admin, http.StatusBadRequest, CodeInvalidParams, "limit must be between 1 and 1000"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := ts.getWithCookie(RecordsCSVPath+tt.query, tt.token)
			var e struct{ Error WireError }
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("body %q is not a JSON error: %v", body, err)
			}
			if resp.StatusCode != tt.status || e.Error.Code != tt.code || !strings.Contains(e.Error.Message, tt.msg) {
				t.Fatalf("got %d %+v, want %d %s with %q", resp.StatusCode, e.Error, tt.status, tt.code, tt.msg)
			}
		})
	}

	t.Run("without the SIP module", func(t *testing.T) {
		s := &Server{deps: Deps{Auth: ts.auth}, log: slog.New(slog.DiscardHandler)}
		req := httptest.NewRequest(http.MethodGet, RecordsCSVPath, nil)
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: admin})
		rec := httptest.NewRecorder()
		s.handleRecordsCSV(rec, req)
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), CodeUnavailable) {
			t.Fatalf("got %d %s, want 503 unavailable", rec.Code, rec.Body)
		}
	})
}

func TestCSVSafe(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"1001", "1001"},
		{"前台", "前台"},
		{"=1+1", "'=1+1"},
		{"+8610", "'+8610"},
		{"-2", "'-2"},
		{"@x", "'@x"},
		{"\tx", "'\tx"},
		{"\rx", "'\rx"},
		{"a=b", "a=b"},
	}
	for _, tt := range tests {
		if got := csvSafe(tt.in); got != tt.want {
			t.Errorf("csvSafe(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestCallNamesMatchVoip: the console's topics and results are voip's.
func TestCallNamesMatchVoip(t *testing.T) {
	if TopicCalls != string(voip.TopicCalls) || TopicDTMF != string(voip.TopicDTMF) {
		t.Errorf("topics %q, %q; voip publishes on %q, %q", TopicCalls, TopicDTMF, voip.TopicCalls, voip.TopicDTMF)
	}
	want := []string{b2bua.ResultAnswered, b2bua.ResultBusy, b2bua.ResultNoAnswer, b2bua.ResultUnavailable,
		b2bua.ResultUnknown, b2bua.ResultCancelled, b2bua.ResultRefused, b2bua.ResultFailed}
	if !slices.Equal(CallResults, want) {
		t.Errorf("CallResults = %v, voip's results are %v", CallResults, want)
	}
}

// TestCallsUnavailable: without the SIP module, the calls requests say so
// and the snapshot is empty.
func TestCallsUnavailable(t *testing.T) {
	s := &Server{deps: Deps{}}
	c := &conn{s: s}
	for _, h := range []handlerFunc{(*conn).handleCallsList, (*conn).handleCallsHangup, (*conn).handleRecordsList} {
		if _, err := h(c, context.Background(), request{raw: []byte(`{"call_id":"x"}`)}); s.wireError(err).Code != CodeUnavailable {
			t.Errorf("got %v, want unavailable", err)
		}
	}
	if snap := s.callsSnapshot(); snap.Calls == nil || len(snap.Calls) != 0 {
		t.Fatalf("snapshot = %#v, want an empty list", snap)
	}
}
