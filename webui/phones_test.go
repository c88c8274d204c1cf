package webui

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"civic/internal/audit"
	"civic/internal/auth"
	"civic/internal/events"
	"civic/voip"
)

// fakePhones stands in for *voip.Service: extensions and ring groups in
// memory, validated the way voip documents it, and registrations that a
// test makes with register and unregister, published on the bus as voip
// does. Calls and call records are in calls_test.go.
type fakePhones struct {
	bus *events.Bus

	mu        sync.Mutex
	exts      map[string]voip.Extension
	passwords map[string]string // kept only to check "empty keeps the old one"
	groups    map[string]voip.RingGroup
	bindings  map[string][]voip.Binding
	calls     []voip.Call       // live, oldest first (calls_test.go)
	records   []voip.CallRecord // in the order they ended
}

var _ Phones = (*fakePhones)(nil)

func newFakePhones(bus *events.Bus) *fakePhones {
	return &fakePhones{
		bus:       bus,
		exts:      map[string]voip.Extension{},
		passwords: map[string]string{},
		groups:    map[string]voip.RingGroup{},
		bindings:  map[string][]voip.Binding{},
	}
}

var fakeNumber = regexp.MustCompile(`^[0-9]{2,5}$`)

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", voip.ErrInvalid, fmt.Sprintf(format, args...))
}

// taken reports whether number is an extension or a ring group; mu held.
func (f *fakePhones) taken(number string) bool {
	_, e := f.exts[number]
	_, g := f.groups[number]
	return e || g
}

func checkExtension(in voip.ExtensionInput, create bool) error {
	if !fakeNumber.MatchString(in.Number) {
		return invalidf("an extension number is 2-5 digits")
	}
	if strings.TrimSpace(in.Name) == "" {
		return invalidf("an extension needs a name")
	}
	if (create || in.Password != "") && (len(in.Password) < 8 || len(in.Password) > 64) {
		return invalidf("a SIP password is 8-64 characters")
	}
	if in.NoAnswerSeconds < 0 || in.NoAnswerSeconds > 300 {
		return invalidf("no-answer forwarding waits 0-300 seconds")
	}
	return nil
}

func (f *fakePhones) ListExtensions(context.Context) ([]voip.Extension, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []voip.Extension
	for _, e := range f.exts {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b voip.Extension) int { return strings.Compare(a.Number, b.Number) })
	return out, nil
}

func (f *fakePhones) CreateExtension(_ context.Context, in voip.ExtensionInput) (voip.Extension, error) {
	if err := checkExtension(in, true); err != nil {
		return voip.Extension{}, err
	}
	f.mu.Lock()
	if f.taken(in.Number) {
		f.mu.Unlock()
		return voip.Extension{}, fmt.Errorf("%w: the number %s is already in use", voip.ErrExists, in.Number)
	}
	f.exts[in.Number] = in.Extension
	f.passwords[in.Number] = in.Password
	f.mu.Unlock()
	f.publish("voip.phone_changed", in.Number)
	return in.Extension, nil
}

func (f *fakePhones) UpdateExtension(_ context.Context, number string, in voip.ExtensionInput) (voip.Extension, error) {
	in.Number = number
	if err := checkExtension(in, false); err != nil {
		return voip.Extension{}, err
	}
	f.mu.Lock()
	if _, ok := f.exts[number]; !ok {
		f.mu.Unlock()
		return voip.Extension{}, fmt.Errorf("%w: there is no extension %s", voip.ErrNotFound, number)
	}
	f.exts[number] = in.Extension
	if in.Password != "" {
		f.passwords[number] = in.Password
	}
	f.mu.Unlock()
	f.publish("voip.phone_changed", number)
	return in.Extension, nil
}

func (f *fakePhones) DeleteExtension(_ context.Context, number string) error {
	f.mu.Lock()
	ext, ok := f.exts[number]
	if !ok {
		f.mu.Unlock()
		return fmt.Errorf("%w: there is no extension %s", voip.ErrNotFound, number)
	}
	delete(f.exts, number)
	delete(f.passwords, number)
	delete(f.bindings, number)
	f.mu.Unlock()
	f.bus.Publish(voip.PhoneEvent{Kind: "voip.phone_removed", Phone: voip.Phone{Extension: ext, Bindings: []voip.Binding{}}})
	return nil
}

func (f *fakePhones) checkGroup(g voip.RingGroup) error {
	if !fakeNumber.MatchString(g.Number) {
		return invalidf("a ring group number is 2-5 digits")
	}
	if g.Strategy != "all" && g.Strategy != "order" {
		return invalidf("the strategy is \"all\" or \"order\"")
	}
	if len(g.Members) == 0 {
		return invalidf("a ring group needs at least one member")
	}
	for _, m := range g.Members {
		if _, ok := f.exts[m]; !ok {
			return invalidf("member %s is not an extension", m)
		}
	}
	return nil
}

func (f *fakePhones) ListRingGroups(context.Context) ([]voip.RingGroup, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []voip.RingGroup
	for _, g := range f.groups {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b voip.RingGroup) int { return strings.Compare(a.Number, b.Number) })
	return out, nil
}

func (f *fakePhones) CreateRingGroup(_ context.Context, g voip.RingGroup) (voip.RingGroup, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkGroup(g); err != nil {
		return voip.RingGroup{}, err
	}
	if f.taken(g.Number) {
		return voip.RingGroup{}, fmt.Errorf("%w: the number %s is already in use", voip.ErrExists, g.Number)
	}
	f.groups[g.Number] = g
	return g, nil
}

func (f *fakePhones) UpdateRingGroup(_ context.Context, number string, g voip.RingGroup) (voip.RingGroup, error) {
	g.Number = number
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.groups[number]; !ok {
		return voip.RingGroup{}, fmt.Errorf("%w: there is no ring group %s", voip.ErrNotFound, number)
	}
	if err := f.checkGroup(g); err != nil {
		return voip.RingGroup{}, err
	}
	f.groups[number] = g
	return g, nil
}

func (f *fakePhones) DeleteRingGroup(_ context.Context, number string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.groups[number]; !ok {
		return fmt.Errorf("%w: there is no ring group %s", voip.ErrNotFound, number)
	}
	delete(f.groups, number)
	return nil
}

func (f *fakePhones) Phones() []voip.Phone {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []voip.Phone
	for n := range f.exts {
		out = append(out, f.phone(n))
	}
	return out
}

// phone is one extension's state; mu held.
func (f *fakePhones) phone(number string) voip.Phone {
	b := slices.Clone(f.bindings[number])
	return voip.Phone{Extension: f.exts[number], Online: len(b) > 0, Bindings: b}
}

func (f *fakePhones) publish(kind, number string) {
	f.mu.Lock()
	p := f.phone(number)
	f.mu.Unlock()
	f.bus.Publish(voip.PhoneEvent{Kind: kind, Phone: p})
}

// register adds a binding for number, as a REGISTER would.
func (f *fakePhones) register(number, contact, userAgent string) {
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	f.mu.Lock()
	f.bindings[number] = append(f.bindings[number], voip.Binding{
		Contact: contact, Transport: "udp", Source: "127.0.0.1:5062", UserAgent: userAgent,
		Expires: now.Add(time.Hour), LastSeen: now, Reachable: true,
	})
	f.mu.Unlock()
	f.publish("voip.phone_online", number)
}

// unregister removes number's bindings, as a REGISTER with Expires: 0.
func (f *fakePhones) unregister(number string) {
	f.mu.Lock()
	delete(f.bindings, number)
	f.mu.Unlock()
	f.publish("voip.phone_offline", number)
}

// TestExtensionEditing drives the extension editor's requests as an
// admin: create, list, update (an empty password keeps the old one),
// delete, and each kind of failure with its code and a sentence. Every
// change is audited, never with the password.
func TestExtensionEditing(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.connect(ts.login(auth.RoleAdmin))
	const pw = "desk-phone-secret-1"
	ext := map[string]any{"number": "1001", "name": "前台 Reception", "department": "Front office", "user": "u-official", "password": pw}

	res := admin.request(TypeExtensionsCreate, ext)
	if errCode(res) != "" {
		t.Fatalf("create: %v", res)
	}
	got := res["result"].(map[string]any)["extension"].(map[string]any)
	if got["number"] != "1001" || got["name"] != "前台 Reception" || got["password"] != nil {
		t.Fatalf("created extension = %v", got)
	}

	tests := []struct {
		name   string
		typ    string
		params map[string]any
		code   string
		msg    string // the message must contain this
	}{
		{"taken number", TypeExtensionsCreate, ext, CodeConflict, "already in use"},
		{"no password", TypeExtensionsCreate, map[string]any{"number": "1002", "name": "Clerk"}, CodeInvalidParams, "8-64 characters"},
		{"short password", TypeExtensionsCreate, map[string]any{"number": "1002", "name": "Clerk", "password": "short"}, CodeInvalidParams, "8-64 characters"},
		{"bad number", TypeExtensionsCreate, map[string]any{"number": "12a", "name": "Clerk", "password": pw}, CodeInvalidParams, "2-5 digits"},
		{"wrong type", TypeExtensionsCreate, map[string]any{"number": "1002", "name": "Clerk", "password": pw, "dnd": "yes"}, CodeInvalidParams, "dnd"},
		{"update unknown", TypeExtensionsUpdate, map[string]any{"number": "4040", "name": "Nobody"}, CodeNotFound, "no extension 4040"},
		{"update without number", TypeExtensionsUpdate, map[string]any{"name": "Nobody"}, CodeInvalidParams, "number"},
		{"delete unknown", TypeExtensionsDelete, map[string]any{"number": "4040"}, CodeNotFound, "no extension 4040"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := admin.request(tt.typ, tt.params)
			if errCode(res) != tt.code {
				t.Fatalf("got %v, want %s", res, tt.code)
			}
			msg := res["error"].(map[string]any)["message"].(string)
			if !strings.Contains(msg, tt.msg) || strings.HasPrefix(msg, "invalid:") || strings.HasPrefix(msg, "not found") {
				t.Fatalf("message %q, want a sentence containing %q", msg, tt.msg)
			}
		})
	}

	upd := admin.request(TypeExtensionsUpdate, map[string]any{"number": "1001", "name": "前台 Reception", "department": "Front office",
		"forward_no_answer": "1002", "no_answer_seconds": 20, "dnd": true})
	if errCode(upd) != "" {
		t.Fatalf("update: %v", upd)
	}
	if e := upd["result"].(map[string]any)["extension"].(map[string]any); e["dnd"] != true || e["forward_no_answer"] != "1002" || e["user"] != nil {
		t.Fatalf("updated extension = %v (the whole extension is replaced: no user now)", e)
	}
	ts.phones.mu.Lock()
	kept := ts.phones.passwords["1001"]
	ts.phones.mu.Unlock()
	if kept != pw {
		t.Fatalf("an update without a password changed it to %q", kept)
	}
	if res := admin.request(TypeExtensionsUpdate, map[string]any{"number": "1001", "name": "Reception", "password": "new-secret-22"}); errCode(res) != "" {
		t.Fatalf("update with password: %v", res)
	}

	list := admin.request(TypeExtensionsList, nil)
	exts := list["result"].(map[string]any)["extensions"].([]any)
	if len(exts) != 1 || exts[0].(map[string]any)["name"] != "Reception" {
		t.Fatalf("list = %v", list)
	}

	if res := admin.request(TypeExtensionsDelete, map[string]any{"number": "1001"}); errCode(res) != "" {
		t.Fatalf("delete: %v", res)
	}
	if exts := admin.request(TypeExtensionsList, nil)["result"].(map[string]any)["extensions"].([]any); len(exts) != 0 {
		t.Fatalf("list after delete = %v", exts)
	}

	entries, _, err := ts.audit.List(context.Background(), audit.Filter{Action: "voip.", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{ // action/result -> a detail it must contain
		TypeExtensionsCreate + "/" + audit.ResultOK:     "前台 Reception",
		TypeExtensionsCreate + "/" + audit.ResultFailed: "already in use",
		TypeExtensionsUpdate + "/" + audit.ResultOK:     "password changed",
		TypeExtensionsDelete + "/" + audit.ResultOK:     "Reception",
	}
	found := map[string]bool{}
	for _, e := range entries {
		for _, secret := range []string{pw, "new-secret-22", "short"} {
			if strings.Contains(e.Detail, secret) || strings.Contains(e.Target, secret) {
				t.Errorf("audit entry %+v carries a password", e)
			}
		}
		if sub, ok := want[e.Action+"/"+e.Result]; ok && strings.Contains(e.Detail, sub) {
			found[e.Action+"/"+e.Result] = true
			if e.Action != TypeExtensionsCreate || e.Result == audit.ResultOK {
				if e.Target != "extension 1001" {
					t.Errorf("audit target = %q, want extension 1001", e.Target)
				}
			}
		}
	}
	for k, sub := range want {
		if !found[k] {
			t.Errorf("no audit entry %s with %q in its detail; have %+v", k, sub, entries)
		}
	}
}

// TestRingGroupEditing drives the ring-group editor's requests.
func TestRingGroupEditing(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.connect(ts.login(auth.RoleAdmin))
	for _, n := range []string{"2001", "2002"} {
		if res := admin.request(TypeExtensionsCreate, map[string]any{"number": n, "name": "Desk " + n, "password": "ring-group-pw"}); errCode(res) != "" {
			t.Fatal(res)
		}
	}
	group := map[string]any{"number": "600", "name": "设施服务台 Facilities desk", "strategy": "all", "members": []string{"2001", "2002"}, "ring_seconds": 30}
	res := admin.request(TypeRingGroupsCreate, group)
	if errCode(res) != "" {
		t.Fatalf("create: %v", res)
	}
	tests := []struct {
		name   string
		typ    string
		params map[string]any
		code   string
	}{
		{"taken", TypeRingGroupsCreate, group, CodeConflict},
		{"taken by an extension", TypeRingGroupsCreate, map[string]any{"number": "2001", "name": "x", "strategy": "all", "members": []string{"2002"}}, CodeConflict},
		{"bad strategy", TypeRingGroupsCreate, map[string]any{"number": "601", "name": "x", "strategy": "random", "members": []string{"2001"}}, CodeInvalidParams},
		{"unknown member", TypeRingGroupsCreate, map[string]any{"number": "601", "name": "x", "strategy": "all", "members": []string{"9999"}}, CodeInvalidParams},
		{"members not a list", TypeRingGroupsCreate, map[string]any{"number": "601", "name": "x", "strategy": "all", "members": "2001,2002"}, CodeInvalidParams},
		{"update unknown", TypeRingGroupsUpdate, map[string]any{"number": "699", "name": "x", "strategy": "all", "members": []string{"2001"}}, CodeNotFound},
		{"delete unknown", TypeRingGroupsDelete, map[string]any{"number": "699"}, CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if res := admin.request(tt.typ, tt.params); errCode(res) != tt.code {
				t.Fatalf("got %v, want %s", res, tt.code)
			}
		})
	}
	upd := admin.request(TypeRingGroupsUpdate, map[string]any{"number": "600", "name": "Facilities desk", "strategy": "order", "members": []string{"2002", "2001"}, "ring_seconds": 15})
	if g := upd["result"].(map[string]any)["ring_group"].(map[string]any); g["strategy"] != "order" || fmt.Sprint(g["members"]) != "[2002 2001]" {
		t.Fatalf("update: %v", upd)
	}
	official := ts.connect(ts.login(auth.RoleOfficial))
	list := official.request(TypeRingGroupsList, nil)
	groups := list["result"].(map[string]any)["ring_groups"].([]any)
	if len(groups) != 1 || groups[0].(map[string]any)["ring_seconds"] != float64(15) {
		t.Fatalf("list as official = %v", list)
	}
	if res := admin.request(TypeRingGroupsDelete, map[string]any{"number": "600"}); errCode(res) != "" {
		t.Fatalf("delete: %v", res)
	}
	if res := official.request(TypeRingGroupsList, nil); fmt.Sprint(res["result"]) != "map[ring_groups:[]]" {
		t.Fatalf("list after delete = %v, want an empty list", res)
	}
}

// TestPhonesTopic subscribes to voip.phones as facilities staff: the
// snapshot lists every extension with its state, then a phone registering
// and unregistering arrive as events with its whole new state.
func TestPhonesTopic(t *testing.T) {
	ts := newTestServer(t)
	admin := ts.connect(ts.login(auth.RoleAdmin))
	for _, n := range []string{"1002", "1001"} {
		if res := admin.request(TypeExtensionsCreate, map[string]any{"number": n, "name": "Desk " + n, "password": "phones-topic-pw"}); errCode(res) != "" {
			t.Fatal(res)
		}
	}
	ts.phones.register("1002", "sip:1002@127.0.0.1:5062", "Yealink SIP-T54W")

	c := ts.connect(ts.login(auth.RoleFacilities))
	sub := c.request(TypeSubscribe, map[string]any{"topics": []string{TopicPhones}})
	if errCode(sub) != "" {
		t.Fatalf("subscribe: %v", sub)
	}
	snap := c.readMsg()
	ev := snap["event"].(map[string]any)
	if ev["topic"] != TopicPhones || ev["kind"] != kindSnapshot {
		t.Fatalf("first event = %v, want the snapshot", snap)
	}
	phones := ev["data"].(map[string]any)["phones"].([]any)
	if len(phones) != 2 {
		t.Fatalf("snapshot phones = %v", phones)
	}
	first, second := phones[0].(map[string]any), phones[1].(map[string]any)
	if first["extension"].(map[string]any)["number"] != "1001" || first["online"] != false || fmt.Sprint(first["bindings"]) != "[]" {
		t.Fatalf("first phone = %v, want 1001 offline with no bindings ([] not null)", first)
	}
	if second["online"] != true || second["bindings"].([]any)[0].(map[string]any)["user_agent"] != "Yealink SIP-T54W" {
		t.Fatalf("second phone = %v, want 1002 online", second)
	}

	// expect reads events until one of kind for number comes.
	expect := func(kind, number string) map[string]any {
		t.Helper()
		for {
			m := c.readMsg()
			e, _ := m["event"].(map[string]any)
			if e == nil || e["kind"] != kind {
				continue
			}
			p := e["data"].(map[string]any)["phone"].(map[string]any)
			if p["extension"].(map[string]any)["number"] == number {
				if e["topic"] != TopicPhones || m["id"] != sub["id"] {
					t.Fatalf("event %v is not on the subscription", m)
				}
				return p
			}
		}
	}
	ts.phones.register("1001", "sip:1001@127.0.0.1:5064", "baresip")
	if p := expect("voip.phone_online", "1001"); p["online"] != true {
		t.Fatalf("online event: %v", p)
	}
	ts.phones.unregister("1001")
	if p := expect("voip.phone_offline", "1001"); p["online"] != false {
		t.Fatalf("offline event: %v", p)
	}
	if res := admin.request(TypeExtensionsDelete, map[string]any{"number": "1001"}); errCode(res) != "" {
		t.Fatal(res)
	}
	expect("voip.phone_removed", "1001")

	// A guest may not watch the phones.
	meeting := admin.request(TypeConferenceCreate, map[string]any{"title": "x", "lobby": false})
	room := meeting["result"].(map[string]any)["meeting"].(map[string]any)["room"].(string)
	token, _ := ts.guestSession(room, "Visitor", "")
	if res := ts.connect(token).request(TypeSubscribe, map[string]any{"topics": []string{TopicPhones}}); errCode(res) != CodeNotAllowed {
		t.Fatalf("guest subscribe to phones: %v", res)
	}
}

// TestPhonesUnavailable: without the SIP module, requests say so and the
// topic's snapshot is empty.
func TestPhonesUnavailable(t *testing.T) {
	s := &Server{deps: Deps{}}
	c := &conn{s: s}
	if _, err := c.phones(); s.wireError(err).Code != CodeUnavailable {
		t.Fatalf("phones() = %v, want unavailable", err)
	}
	if snap := s.phonesSnapshot(); snap.Phones == nil || len(snap.Phones) != 0 {
		t.Fatalf("snapshot = %#v, want an empty list", snap)
	}
}

func TestVoipErrorSentences(t *testing.T) {
	tests := []struct {
		err  error
		code string
		msg  string
	}{
		{fmt.Errorf("%w: an extension number is 2-5 digits", voip.ErrInvalid), CodeInvalidParams, "an extension number is 2-5 digits"},
		{fmt.Errorf("extension 1001 does not exist: %w", voip.ErrNotFound), CodeNotFound, "extension 1001 does not exist"},
		{fmt.Errorf("update extension: %w", voip.ErrExists), CodeConflict, "update extension"},
		{voip.ErrExists, CodeConflict, "that number is already taken"},
		{fmt.Errorf("wrap: %w", voip.ErrNotFound), CodeNotFound, "wrap"},
		{errors.New("disk on fire"), "", ""},
	}
	for _, tt := range tests {
		we := voipError(tt.err)
		if tt.code == "" {
			if we != nil {
				t.Errorf("voipError(%v) = %+v, want nil", tt.err, we)
			}
			continue
		}
		if we == nil || we.Code != tt.code || we.Message != tt.msg {
			t.Errorf("voipError(%v) = %+v, want %s %q", tt.err, we, tt.code, tt.msg)
		}
	}
}

func TestPhonesTopicMatchesVoip(t *testing.T) {
	if TopicPhones != string(voip.TopicPhones) {
		t.Fatalf("TopicPhones = %q, voip publishes on %q", TopicPhones, voip.TopicPhones)
	}
}
