package webui

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"civic/building/cameras"
	"civic/conference"
	"civic/internal/audit"
	"civic/internal/auth"
	"civic/voip"
)

// wantRoles is the RBAC policy written out a second time, by hand, so a
// change of roles in protocol.go has to be made here too on purpose. A new
// message type without an entry here fails the test.
var wantRoles = map[string][]auth.Role{
	TypePing:                  {auth.RoleAdmin, auth.RoleOfficial, auth.RoleFacilities, auth.RoleGuest},
	TypeSubscribe:             {auth.RoleAdmin, auth.RoleOfficial, auth.RoleFacilities},
	TypeUnsubscribe:           {auth.RoleAdmin, auth.RoleOfficial, auth.RoleFacilities},
	TypeWhoami:                {auth.RoleAdmin, auth.RoleOfficial, auth.RoleFacilities, auth.RoleGuest},
	TypeSystemStatus:          {auth.RoleAdmin, auth.RoleOfficial, auth.RoleFacilities},
	TypeUsersList:             {auth.RoleAdmin},
	TypeUsersCreate:           {auth.RoleAdmin},
	TypeUsersUpdate:           {auth.RoleAdmin},
	TypeUsersDelete:           {auth.RoleAdmin},
	TypeUsersResetPassword:    {auth.RoleAdmin},
	TypeAuditList:             {auth.RoleAdmin},
	TypeSessionLogout:         {auth.RoleAdmin, auth.RoleOfficial, auth.RoleFacilities, auth.RoleGuest},
	TypeAccountChangePassword: {auth.RoleAdmin, auth.RoleOfficial, auth.RoleFacilities},
	TypeConferenceCreate:      {auth.RoleAdmin, auth.RoleOfficial},
	TypeConferenceList:        {auth.RoleAdmin, auth.RoleOfficial},
	TypeConferenceJoin:        {auth.RoleAdmin, auth.RoleOfficial, auth.RoleGuest, auth.RoleFacilities},
	TypeConferenceLeave:       {auth.RoleAdmin, auth.RoleOfficial, auth.RoleGuest, auth.RoleFacilities},
	TypeWebRTCOffer:           {auth.RoleAdmin, auth.RoleOfficial, auth.RoleGuest, auth.RoleFacilities},
	TypeWebRTCAnswer:          {auth.RoleAdmin, auth.RoleOfficial, auth.RoleGuest, auth.RoleFacilities},
	TypeWebRTCCandidate:       {auth.RoleAdmin, auth.RoleOfficial, auth.RoleGuest, auth.RoleFacilities},
	TypeConferenceMute:        {auth.RoleAdmin, auth.RoleOfficial},
	TypeConferenceMuteAll:     {auth.RoleAdmin, auth.RoleOfficial},
	TypeConferenceRemove:      {auth.RoleAdmin, auth.RoleOfficial},
	TypeConferenceLock:        {auth.RoleAdmin, auth.RoleOfficial},
	TypeConferenceEnd:         {auth.RoleAdmin, auth.RoleOfficial},
	TypeConferenceChat:        {auth.RoleAdmin, auth.RoleOfficial, auth.RoleGuest},
	TypeConferenceHand:        {auth.RoleAdmin, auth.RoleOfficial, auth.RoleGuest},
	TypeConferenceView:        {auth.RoleAdmin, auth.RoleOfficial, auth.RoleGuest, auth.RoleFacilities},
	TypeConferenceRejoin:      {auth.RoleAdmin, auth.RoleOfficial, auth.RoleGuest, auth.RoleFacilities},
	TypeWebRTCRestart:         {auth.RoleAdmin, auth.RoleOfficial, auth.RoleGuest, auth.RoleFacilities},
	TypeConferenceInvite:      {auth.RoleAdmin, auth.RoleOfficial},
	TypeConferenceLobby:       {auth.RoleAdmin, auth.RoleOfficial},
	TypeConferenceAdmit:       {auth.RoleAdmin, auth.RoleOfficial},
	TypeConferenceDeny:        {auth.RoleAdmin, auth.RoleOfficial},
	TypeConferenceDialOut:     {auth.RoleAdmin, auth.RoleOfficial},
	TypeSoftphoneRegister:     {auth.RoleAdmin, auth.RoleOfficial, auth.RoleFacilities},
	TypeSoftphoneCall:         {auth.RoleAdmin, auth.RoleOfficial, auth.RoleFacilities},
	TypeSoftphoneAnswer:       {auth.RoleAdmin, auth.RoleOfficial, auth.RoleFacilities},
	TypeSoftphoneDecline:      {auth.RoleAdmin, auth.RoleOfficial, auth.RoleFacilities},
	TypeSoftphoneHangup:       {auth.RoleAdmin, auth.RoleOfficial, auth.RoleFacilities},
	TypeSoftphoneDTMF:         {auth.RoleAdmin, auth.RoleOfficial, auth.RoleFacilities},
	TypeExtensionsList:        {auth.RoleAdmin, auth.RoleOfficial, auth.RoleFacilities},
	TypeExtensionsCreate:      {auth.RoleAdmin},
	TypeExtensionsUpdate:      {auth.RoleAdmin},
	TypeExtensionsDelete:      {auth.RoleAdmin},
	TypeRingGroupsList:        {auth.RoleAdmin, auth.RoleOfficial, auth.RoleFacilities},
	TypeRingGroupsCreate:      {auth.RoleAdmin},
	TypeRingGroupsUpdate:      {auth.RoleAdmin},
	TypeRingGroupsDelete:      {auth.RoleAdmin},
	TypeCallsList:             {auth.RoleAdmin, auth.RoleFacilities},
	TypeCallsHangup:           {auth.RoleAdmin},
	TypeRecordsList:           {auth.RoleAdmin},
	// The building: admins and facilities staff watch and command;
	// only admins edit the model, which facilities staff may read.
	TypeBuildingOverview:   {auth.RoleAdmin, auth.RoleFacilities},
	TypeDoorsUnlock:        {auth.RoleAdmin, auth.RoleFacilities},
	TypeDoorsUnlockUntil:   {auth.RoleAdmin, auth.RoleFacilities},
	TypeDoorsLock:          {auth.RoleAdmin, auth.RoleFacilities},
	TypeLockdownStart:      {auth.RoleAdmin, auth.RoleFacilities},
	TypeLockdownRelease:    {auth.RoleAdmin, auth.RoleFacilities},
	TypeAlarmsList:         {auth.RoleAdmin, auth.RoleFacilities},
	TypeAlarmsAck:          {auth.RoleAdmin, auth.RoleFacilities},
	TypeAlarmsResolve:      {auth.RoleAdmin, auth.RoleFacilities},
	TypeAlarmsHistory:      {auth.RoleAdmin, auth.RoleFacilities},
	TypeAccessList:         {auth.RoleAdmin, auth.RoleFacilities},
	TypeSitesList:          {auth.RoleAdmin, auth.RoleFacilities},
	TypeSitesCreate:        {auth.RoleAdmin},
	TypeSitesUpdate:        {auth.RoleAdmin},
	TypeSitesDelete:        {auth.RoleAdmin},
	TypeBuildingsList:      {auth.RoleAdmin, auth.RoleFacilities},
	TypeBuildingsCreate:    {auth.RoleAdmin},
	TypeBuildingsUpdate:    {auth.RoleAdmin},
	TypeBuildingsDelete:    {auth.RoleAdmin},
	TypeFloorsList:         {auth.RoleAdmin, auth.RoleFacilities},
	TypeFloorsCreate:       {auth.RoleAdmin},
	TypeFloorsUpdate:       {auth.RoleAdmin},
	TypeFloorsDelete:       {auth.RoleAdmin},
	TypeControllersList:    {auth.RoleAdmin, auth.RoleFacilities},
	TypeControllersCreate:  {auth.RoleAdmin},
	TypeControllersUpdate:  {auth.RoleAdmin},
	TypeControllersDelete:  {auth.RoleAdmin},
	TypeDoorsList:          {auth.RoleAdmin, auth.RoleFacilities},
	TypeDoorsCreate:        {auth.RoleAdmin},
	TypeDoorsUpdate:        {auth.RoleAdmin},
	TypeDoorsDelete:        {auth.RoleAdmin},
	TypeCardholdersList:    {auth.RoleAdmin, auth.RoleFacilities},
	TypeCardholdersCreate:  {auth.RoleAdmin},
	TypeCardholdersImport:  {auth.RoleAdmin},
	TypeCardholdersUpdate:  {auth.RoleAdmin},
	TypeCardholdersDelete:  {auth.RoleAdmin},
	TypeAccessLevelsList:   {auth.RoleAdmin, auth.RoleFacilities},
	TypeAccessLevelsCreate: {auth.RoleAdmin},
	TypeAccessLevelsUpdate: {auth.RoleAdmin},
	TypeAccessLevelsDelete: {auth.RoleAdmin},
	TypeSchedulesList:      {auth.RoleAdmin, auth.RoleFacilities},
	TypeSchedulesCreate:    {auth.RoleAdmin},
	TypeSchedulesUpdate:    {auth.RoleAdmin},
	TypeSchedulesDelete:    {auth.RoleAdmin},
	TypeHolidaysList:       {auth.RoleAdmin, auth.RoleFacilities},
	TypeHolidaysSet:        {auth.RoleAdmin},
	TypeHolidaysDelete:     {auth.RoleAdmin},
	TypePlacementsList:     {auth.RoleAdmin, auth.RoleFacilities},
	TypePlacementsSet:      {auth.RoleAdmin},
	TypePlacementsDelete:   {auth.RoleAdmin},
	TypeCamerasList:        {auth.RoleAdmin, auth.RoleFacilities},
	TypeCamerasCreate:      {auth.RoleAdmin},
	TypeCamerasUpdate:      {auth.RoleAdmin},
	TypeCamerasDelete:      {auth.RoleAdmin},
	TypeCamerasProbe:       {auth.RoleAdmin},
	TypeCamerasDiscover:    {auth.RoleAdmin},
	TypeCameraWatch:        {auth.RoleAdmin, auth.RoleFacilities},
	TypeCameraAnswer:       {auth.RoleAdmin, auth.RoleFacilities},
	TypeCameraCandidate:    {auth.RoleAdmin, auth.RoleFacilities},
	TypeCameraUnwatch:      {auth.RoleAdmin, auth.RoleFacilities},
}

// matrixRoles are the roles the matrix sends every request as: every
// console role, and a guest signed in through an invite link.
var matrixRoles = append(auth.Roles(), auth.RoleGuest)

// needsMedia lists the signalling requests whose success needs a real
// WebRTC peer (the conference tests drive them with one). Here an allowed
// role only has to get past the role check: any answer but not_allowed.
var needsMedia = map[string]bool{TypeWebRTCOffer: true, TypeWebRTCAnswer: true, TypeWebRTCCandidate: true,
	// Removing needs a second participant; TestModeration does it.
	TypeConferenceRemove: true,
	// Rejoining needs a dropped connection; TestRejoin does it.
	TypeConferenceRejoin: true,
	// Admitting and denying need a guest in the lobby; TestGuestLobby does it.
	TypeConferenceAdmit: true, TypeConferenceDeny: true,
	// Calling a phone needs the caller in the meeting as its host;
	// TestDialOutRequest does it.
	TypeConferenceDialOut: true,
	// Calls in the browser need a registered console and a call or a
	// ring; TestSoftphone does them.
	TypeSoftphoneCall: true, TypeSoftphoneAnswer: true, TypeSoftphoneDecline: true, TypeSoftphoneHangup: true, TypeSoftphoneDTMF: true,
	// Probing needs an ONVIF camera (TestCameraProbe), and live view a
	// camera and a WebRTC viewer (TestCameraWatch).
	TypeCamerasProbe: true, TypeCameraWatch: true, TypeCameraAnswer: true, TypeCameraCandidate: true, TypeCameraUnwatch: true}

// sampleParams returns valid params for each type; victim is a user that
// commands may change or delete.
func sampleParams(typ string, role auth.Role, victim auth.User, n int, room string) (map[string]any, bool) {
	switch typ {
	case TypePing, TypeWhoami, TypeSystemStatus, TypeUsersList, TypeSessionLogout:
		return nil, true
	case TypeSubscribe:
		return map[string]any{"topics": []string{TopicSystem}}, true
	case TypeUnsubscribe:
		return map[string]any{"subscription": 1}, true
	case TypeUsersCreate:
		return map[string]any{"username": fmt.Sprintf("new%d", n), "role": "official", "password": "long-enough-pw"}, true
	case TypeUsersUpdate:
		return map[string]any{"user_id": victim.ID, "display_name": "Renamed"}, true
	case TypeUsersDelete, TypeUsersResetPassword:
		return map[string]any{"user_id": victim.ID}, true
	case TypeAuditList:
		return map[string]any{"limit": 5}, true
	case TypeAccountChangePassword:
		return map[string]any{"current": "password-" + string(role), "new": "a-new-password-1"}, true
	case TypeConferenceCreate:
		return map[string]any{"title": "Budget review"}, true
	case TypeConferenceList, TypeConferenceLeave:
		return nil, true
	case TypeConferenceJoin:
		return map[string]any{"room": room}, true
	case TypeWebRTCOffer, TypeWebRTCAnswer:
		return map[string]any{"sdp": "v=0"}, true
	case TypeWebRTCCandidate:
		return map[string]any{"pc": "publish", "candidate": map[string]any{"candidate": ""}}, true
	case TypeConferenceMute:
		return map[string]any{"participant_id": "self", "muted": true}, true
	case TypeConferenceMuteAll:
		return nil, true
	case TypeConferenceRemove:
		return map[string]any{"participant_id": "nobody"}, true
	case TypeConferenceLock:
		return map[string]any{"locked": true}, true
	case TypeConferenceEnd:
		return map[string]any{"room": room}, true
	case TypeConferenceChat:
		return map[string]any{"text": "hello"}, true
	case TypeConferenceHand:
		return map[string]any{"raised": true}, true
	case TypeConferenceView:
		return map[string]any{"views": []any{map[string]any{"stream": "x", "width": 320, "height": 180}}}, true
	case TypeConferenceRejoin:
		return map[string]any{"participant_id": "gone"}, true
	case TypeWebRTCRestart:
		return nil, true
	case TypeConferenceInvite:
		return map[string]any{"room": room, "ttl_hours": 2}, true
	case TypeConferenceLobby:
		return map[string]any{"enabled": false}, true
	case TypeConferenceDialOut, TypeSoftphoneCall:
		return map[string]any{"number": "1002"}, true
	case TypeSoftphoneRegister:
		return nil, true
	case TypeSoftphoneAnswer, TypeSoftphoneDecline:
		return map[string]any{"ring_id": "ring-nope"}, true
	case TypeSoftphoneHangup:
		return map[string]any{"call_id": "wc-nope"}, true
	case TypeSoftphoneDTMF:
		return map[string]any{"call_id": "wc-nope", "digits": "1"}, true
	case TypeConferenceAdmit, TypeConferenceDeny:
		return map[string]any{"guest_id": "nobody"}, true
	case TypeExtensionsList, TypeRingGroupsList:
		return nil, true
	case TypeExtensionsCreate, TypeExtensionsUpdate:
		return map[string]any{"number": matrixNumber(n), "name": "Desk", "password": "sip-password-1"}, true
	case TypeExtensionsDelete, TypeRingGroupsDelete:
		return map[string]any{"number": matrixNumber(n)}, true
	case TypeRingGroupsCreate, TypeRingGroupsUpdate:
		return map[string]any{"number": matrixNumber(n), "name": "Desk", "strategy": "all", "members": []string{"1000"}, "ring_seconds": 20}, true
	case TypeCallsList:
		return nil, true
	case TypeCallsHangup:
		return map[string]any{"call_id": matrixCall(n)}, true
	case TypeRecordsList:
		return map[string]any{"extension": "1000", "limit": 5}, true
	case TypeCamerasList:
		return nil, true
	case TypeCamerasCreate, TypeCamerasUpdate:
		return map[string]any{"camera": map[string]any{"id": matrixCamera(n), "name": "Gate", "rtsp_url": "rtsp://127.0.0.1:9/cam"}}, true
	case TypeCamerasDelete:
		return map[string]any{"camera_id": matrixCamera(n)}, true
	case TypeCamerasProbe:
		return map[string]any{"onvif_url": "http://127.0.0.1:9/onvif/device_service", "username": "admin", "password": "x"}, true
	case TypeCamerasDiscover:
		return map[string]any{"timeout_ms": 500}, true
	case TypeCameraWatch:
		return map[string]any{"camera": "nocam"}, true
	case TypeCameraAnswer:
		return map[string]any{"viewer": "nobody", "sdp": "v=0"}, true
	case TypeCameraCandidate:
		return map[string]any{"viewer": "nobody", "candidate": map[string]any{"candidate": ""}}, true
	case TypeCameraUnwatch:
		return map[string]any{"viewer": "nobody"}, true
	}
	return nil, false
}

// matrixNumber is the extension or ring group number of matrix case n.
func matrixNumber(n int) string { return fmt.Sprintf("5%03d", n) }

// matrixCamera is the camera id of matrix case n.
func matrixCamera(n int) string { return fmt.Sprintf("cam%d", n) }

// matrixCall is the id of the live call of matrix case n.
func matrixCall(n int) string { return fmt.Sprintf("matrix-call-%d", n) }

func TestMessageTableIsComplete(t *testing.T) {
	s := (&Server{}).handlerTable()
	seen := map[string]bool{}
	for _, m := range Messages {
		if seen[m.Type] {
			t.Errorf("%s is listed twice in Messages", m.Type)
		}
		seen[m.Type] = true
		if len(m.Roles) == 0 {
			t.Errorf("%s has no roles", m.Type)
		}
		if s[m.Type] == nil {
			t.Errorf("%s has no handler", m.Type)
		}
		if _, ok := wantRoles[m.Type]; !ok {
			t.Errorf("%s is missing from the RBAC test's wantRoles", m.Type)
		}
	}
	for typ := range s {
		if !seen[typ] {
			t.Errorf("handler %s is not in Messages", typ)
		}
	}
	for _, tp := range Topics {
		if len(tp.Roles) == 0 {
			t.Errorf("topic %s has no roles", tp.Topic)
		}
	}
}

// TestRBACMatrix sends every request type as every role and checks that it
// is refused with not_allowed exactly when the role is not permitted, and
// that refused and state-changing requests are audited.
func TestRBACMatrix(t *testing.T) {
	ts := newTestServer(t)
	ts.seedBuilding()
	ctx := context.Background()
	n := 0
	// The member of every ring group the matrix makes.
	if _, err := ts.phones.CreateExtension(ctx, voip.ExtensionInput{Extension: voip.Extension{Number: "1000", Name: "Operator"}, Password: "sip-password-1"}); err != nil {
		t.Fatal(err)
	}
	for _, m := range Messages {
		for _, role := range matrixRoles {
			t.Run(m.Type+"/"+string(role), func(t *testing.T) {
				n++
				victim, err := ts.auth.CreateUser(ctx, auth.NewUser{Username: fmt.Sprintf("victim%d", n), Role: auth.RoleOfficial, Password: "victim-password"})
				if err != nil {
					t.Fatal(err)
				}
				// The caller hosts the meeting, so host-only requests pass
				// the meeting's own check; TestModeration covers non-hosts.
				// A guest is invited to an official's meeting without a
				// lobby; TestGuestLobby covers the lobby.
				host := ts.users[role].Username
				if role == auth.RoleGuest {
					host = ts.users[auth.RoleOfficial].Username
				}
				meeting, err := ts.conf.CreateMeeting(ctx, host, conference.MeetingOptions{Title: "RBAC", NoLobby: role == auth.RoleGuest})
				if role == auth.RoleFacilities {
					// Facilities staff are in rooms only on their own
					// browser calls; TestFacilitiesJoinOnlyCalls covers
					// meetings.
					meeting, err = ts.conf.CreateCall(ctx, host, "RBAC")
				}
				if err != nil {
					t.Fatal(err)
				}
				params, ok := sampleParams(m.Type, role, victim, n, meeting.Room)
				if !ok {
					params, ok = ts.buildingCase(m.Type, n)
				}
				if !ok {
					t.Fatalf("no sample params for %s: add it to sampleParams", m.Type)
				}
				var c *wsClient
				user := ts.users[role].Username
				if role == auth.RoleGuest {
					token, guest := ts.guestSession(meeting.Room, "Visitor", "")
					c, user = ts.connect(token), guest
				} else {
					c = ts.connect(ts.login(role))
				}
				switch m.Type {
				case TypeExtensionsUpdate, TypeExtensionsDelete:
					if _, err := ts.phones.CreateExtension(ctx, voip.ExtensionInput{Extension: voip.Extension{Number: matrixNumber(n), Name: "Desk"}, Password: "sip-password-1"}); err != nil {
						t.Fatal(err)
					}
				case TypeRingGroupsUpdate, TypeRingGroupsDelete:
					if _, err := ts.phones.CreateRingGroup(ctx, voip.RingGroup{Number: matrixNumber(n), Name: "Desk", Strategy: "all", Members: []string{"1000"}}); err != nil {
						t.Fatal(err)
					}
				case TypeCallsHangup:
					ts.phones.startCall(matrixCall(n), "1000", matrixNumber(n), matrixNumber(n))
				case TypeCamerasUpdate, TypeCamerasDelete:
					if _, err := ts.cams.Create(ctx, cameras.Input{ID: matrixCamera(n), Name: "Gate", RTSPURL: "rtsp://127.0.0.1:9/cam"}); err != nil {
						t.Fatal(err)
					}
				case TypeUnsubscribe:
					c.request(TypeSubscribe, map[string]any{"topics": []string{TopicSystem}})
				case TypeConferenceLeave, TypeConferenceMute, TypeConferenceMuteAll, TypeConferenceRemove,
					TypeConferenceLock, TypeConferenceChat, TypeConferenceHand, TypeConferenceView, TypeWebRTCRestart,
					TypeConferenceLobby, TypeConferenceAdmit, TypeConferenceDeny:
					// In the meeting (admins are hosts of every meeting).
					if slices.Contains(wantRoles[m.Type], role) {
						j := c.request(TypeConferenceJoin, map[string]any{"room": meeting.Room})
						if params != nil && params["participant_id"] == "self" {
							params["participant_id"] = j["result"].(map[string]any)["participant_id"]
						}
					}
				}
				mark := lastAuditID(t, ts)
				res := c.request(m.Type, params)
				want := slices.Contains(wantRoles[m.Type], role)
				code := errCode(res)
				if m.Type == TypePing {
					if want != (res["type"] == TypePong) {
						t.Fatalf("ping as %s: got %v", role, res)
					}
					return
				}
				if !want {
					if code != CodeNotAllowed {
						t.Fatalf("%s as %s: got %v, want not_allowed", m.Type, role, res)
					}
					assertAudited(t, ts, mark, m.Type, user, audit.ResultDenied)
					if m.Type == TypeCallsHangup && !slices.ContainsFunc(ts.phones.Calls(), func(c voip.Call) bool { return c.ID == matrixCall(n) }) {
						t.Fatalf("a refused hang-up as %s ended the call", role)
					}
					return
				}
				if needsMedia[m.Type] {
					if code == CodeNotAllowed {
						t.Fatalf("%s as %s: refused, want it allowed", m.Type, role)
					}
					return
				}
				if code != "" {
					t.Fatalf("%s as %s: got error %v, want success", m.Type, role, res)
				}
				if m.Changes {
					assertAudited(t, ts, mark, m.Type, user, audit.ResultOK)
				}
				if m.Type == TypeAccountChangePassword {
					// Put the password back for later cases.
					if err := ts.auth.SetPassword(ctx, ts.users[role].ID, "password-"+string(role)); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	}
}

// lastAuditID is the id of the newest audit entry, or 0.
func lastAuditID(t *testing.T, ts *testServer) int64 {
	t.Helper()
	entries, _, err := ts.audit.List(context.Background(), audit.Filter{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		return 0
	}
	return entries[0].ID
}

// assertAudited checks that an entry newer than mark records the action.
func assertAudited(t *testing.T, ts *testServer, mark int64, action, user, result string) {
	t.Helper()
	entries, _, err := ts.audit.List(context.Background(), audit.Filter{User: user, Action: action, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 || entries[0].ID <= mark || entries[0].Result != result {
		t.Fatalf("audit for %s by %s: got %+v, want result %s", action, user, entries, result)
	}
}

// wantTopicRoles is the subscription policy written out by hand, like
// wantRoles. A new topic without an entry here fails the test.
var wantTopicRoles = map[string][]auth.Role{
	TopicSystem:   {auth.RoleAdmin, auth.RoleOfficial, auth.RoleFacilities},
	TopicUsers:    {auth.RoleAdmin},
	TopicAudit:    {auth.RoleAdmin},
	TopicMeetings: {auth.RoleAdmin, auth.RoleOfficial},
	TopicPhones:   {auth.RoleAdmin, auth.RoleOfficial, auth.RoleFacilities},
	TopicCalls:    {auth.RoleAdmin, auth.RoleFacilities},
	TopicDTMF:     {auth.RoleAdmin},

	TopicBuildingDoors:       {auth.RoleAdmin, auth.RoleFacilities},
	TopicBuildingAlarms:      {auth.RoleAdmin, auth.RoleFacilities},
	TopicBuildingAccess:      {auth.RoleAdmin, auth.RoleFacilities},
	TopicBuildingControllers: {auth.RoleAdmin, auth.RoleFacilities},
	TopicBuildingCameras:     {auth.RoleAdmin, auth.RoleFacilities},
}

// TestTopicRoles subscribes to every topic as every role: refused with
// not_allowed exactly when the role may not watch it.
func TestTopicRoles(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	meeting, err := ts.conf.CreateMeeting(ctx, ts.users[auth.RoleOfficial].Username, conference.MeetingOptions{Title: "Topics", NoLobby: true})
	if err != nil {
		t.Fatal(err)
	}
	conns := map[auth.Role]*wsClient{}
	for _, role := range matrixRoles {
		if role == auth.RoleGuest {
			token, _ := ts.guestSession(meeting.Room, "Visitor", "")
			conns[role] = ts.connect(token)
		} else {
			conns[role] = ts.connect(ts.login(role))
		}
	}
	for _, tp := range Topics {
		want, ok := wantTopicRoles[tp.Topic]
		if !ok {
			t.Errorf("topic %s is missing from wantTopicRoles", tp.Topic)
			continue
		}
		for _, role := range matrixRoles {
			res := conns[role].request(TypeSubscribe, map[string]any{"topics": []string{tp.Topic}})
			if got, allowed := errCode(res), slices.Contains(want, role); allowed != (got == "") || (!allowed && got != CodeNotAllowed) {
				t.Errorf("subscribe to %s as %s: %v, want allowed=%v", tp.Topic, role, res, allowed)
			}
		}
	}
}
