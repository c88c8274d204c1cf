package webui

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"

	"civic/internal/audit"
	"civic/internal/auth"
)

// reply is what a handler gives back: the result, the audit target and
// detail for state-changing requests, and an optional step to run after the
// result has been queued (subscribe sends its snapshots there).
type reply struct {
	result any
	target string
	detail string
	after  func()
}

type handlerFunc func(c *conn, ctx context.Context, req request) (reply, error)

// Audit results.
const (
	auditOK     = audit.ResultOK
	auditFailed = audit.ResultFailed
	auditDenied = audit.ResultDenied
)

// handlerTable binds every request type in Messages to its handler.
func (s *Server) handlerTable() map[string]handlerFunc {
	t := map[string]handlerFunc{
		TypePing:                  func(*conn, context.Context, request) (reply, error) { return reply{}, nil },
		TypeSubscribe:             (*conn).handleSubscribe,
		TypeUnsubscribe:           (*conn).handleUnsubscribe,
		TypeWhoami:                (*conn).handleWhoami,
		TypeSystemStatus:          (*conn).handleSystemStatus,
		TypeUsersList:             (*conn).handleUsersList,
		TypeUsersCreate:           (*conn).handleUsersCreate,
		TypeUsersUpdate:           (*conn).handleUsersUpdate,
		TypeUsersDelete:           (*conn).handleUsersDelete,
		TypeUsersResetPassword:    (*conn).handleUsersResetPassword,
		TypeAuditList:             (*conn).handleAuditList,
		TypeSessionLogout:         (*conn).handleSessionLogout,
		TypeAccountChangePassword: (*conn).handleChangePassword,
		TypeConferenceCreate:      (*conn).handleConferenceCreate,
		TypeConferenceList:        (*conn).handleConferenceList,
		TypeConferenceJoin:        (*conn).handleConferenceJoin,
		TypeConferenceLeave:       (*conn).handleConferenceLeave,
		TypeWebRTCOffer:           (*conn).handleWebRTCOffer,
		TypeWebRTCAnswer:          (*conn).handleWebRTCAnswer,
		TypeWebRTCCandidate:       (*conn).handleWebRTCCandidate,
		TypeConferenceMute:        (*conn).handleConferenceMute,
		TypeConferenceMuteAll:     (*conn).handleConferenceMuteAll,
		TypeConferenceRemove:      (*conn).handleConferenceRemove,
		TypeConferenceLock:        (*conn).handleConferenceLock,
		TypeConferenceEnd:         (*conn).handleConferenceEnd,
		TypeConferenceChat:        (*conn).handleConferenceChat,
		TypeConferenceHand:        (*conn).handleConferenceHand,
		TypeConferenceView:        (*conn).handleConferenceView,
		TypeConferenceRejoin:      (*conn).handleConferenceRejoin,
		TypeWebRTCRestart:         (*conn).handleWebRTCRestart,
		TypeConferenceInvite:      (*conn).handleConferenceInvite,
		TypeConferenceLobby:       (*conn).handleConferenceLobby,
		TypeConferenceAdmit:       (*conn).handleConferenceAdmit,
		TypeConferenceDeny:        (*conn).handleConferenceDeny,
		TypeExtensionsList:        (*conn).handleExtensionsList,
		TypeExtensionsCreate:      (*conn).handleExtensionsCreate,
		TypeExtensionsUpdate:      (*conn).handleExtensionsUpdate,
		TypeExtensionsDelete:      (*conn).handleExtensionsDelete,
		TypeRingGroupsList:        (*conn).handleRingGroupsList,
		TypeRingGroupsCreate:      (*conn).handleRingGroupsCreate,
		TypeRingGroupsUpdate:      (*conn).handleRingGroupsUpdate,
		TypeRingGroupsDelete:      (*conn).handleRingGroupsDelete,
		TypeCallsList:             (*conn).handleCallsList,
		TypeCallsHangup:           (*conn).handleCallsHangup,
		TypeRecordsList:           (*conn).handleRecordsList,
	}
	for typ, h := range buildingHandlers() {
		t[typ] = h
	}
	t[TypeConferenceDialOut] = (*conn).handleConferenceDialOut
	t[TypeSoftphoneRegister] = (*conn).handleSoftphoneRegister
	t[TypeSoftphoneCall] = (*conn).handleSoftphoneCall
	t[TypeSoftphoneAnswer] = (*conn).handleSoftphoneAnswer
	t[TypeSoftphoneDecline] = (*conn).handleSoftphoneDecline
	t[TypeSoftphoneHangup] = (*conn).handleSoftphoneHangup
	t[TypeSoftphoneDTMF] = (*conn).handleSoftphoneDTMF
	for typ, h := range cameraHandlers() {
		t[typ] = h
	}
	return t
}

func (c *conn) handleWhoami(_ context.Context, _ request) (reply, error) {
	sess := c.session()
	return reply{result: WhoamiResult{User: sess.User, Role: sess.User.Role, ExpiresAt: sess.ExpiresAt.UTC().Format(time.RFC3339), Room: sess.Room}}, nil
}

func (c *conn) handleSystemStatus(_ context.Context, _ request) (reply, error) {
	return reply{result: c.s.systemStatus()}, nil
}

func (c *conn) handleUsersList(ctx context.Context, _ request) (reply, error) {
	users, err := c.s.deps.Auth.ListUsers(ctx)
	if err != nil {
		return reply{}, err
	}
	return reply{result: UsersSnapshot{Users: users}}, nil
}

func (c *conn) handleUsersCreate(ctx context.Context, req request) (reply, error) {
	var p UsersCreateParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	rep := reply{target: truncate(p.Username, 64)}
	role, err := auth.ParseRole(p.Role)
	if err != nil {
		return rep, apiErrorf(CodeInvalidParams, "role must be one of admin, official, facilities")
	}
	u, err := c.s.deps.Auth.CreateUser(ctx, auth.NewUser{
		Username: p.Username, DisplayName: p.DisplayName, Role: role, Password: p.Password, Language: p.Language,
	})
	if err != nil {
		return rep, err
	}
	c.s.publishUser(userCreated, u)
	rep.result = UserResult{User: u}
	rep.detail = "role " + string(u.Role)
	return rep, nil
}

// targetUser loads the user a request acts on, and starts its reply with
// that user as the audit target.
func (c *conn) targetUser(ctx context.Context, id int64) (auth.User, reply, error) {
	u, err := c.s.deps.Auth.GetUser(ctx, id)
	if err != nil {
		return auth.User{}, reply{target: fmt.Sprintf("user #%d", id)}, err
	}
	return u, reply{target: u.Username}, nil
}

func (c *conn) handleUsersUpdate(ctx context.Context, req request) (reply, error) {
	var p UsersUpdateParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	before, rep, err := c.targetUser(ctx, p.UserID)
	if err != nil {
		return rep, err
	}
	upd := auth.UserUpdate{DisplayName: p.DisplayName, Disabled: p.Disabled, Language: p.Language}
	if p.Role != nil {
		role, err := auth.ParseRole(*p.Role)
		if err != nil {
			return rep, apiErrorf(CodeInvalidParams, "role must be one of admin, official, facilities")
		}
		upd.Role = &role
	}
	u, err := c.s.deps.Auth.UpdateUser(ctx, p.UserID, upd)
	if err != nil {
		return rep, err
	}
	rep.detail = describeUserChange(before, u)
	c.s.publishUser(userUpdated, u)
	if u.Disabled || u.Role != before.Role {
		c.s.closeUserConns(u.ID, "account changed")
	}
	rep.result = UserResult{User: u}
	return rep, nil
}

func (c *conn) handleUsersDelete(ctx context.Context, req request) (reply, error) {
	var p UserIDParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	u, rep, err := c.targetUser(ctx, p.UserID)
	if err != nil {
		return rep, err
	}
	if u.ID == c.session().User.ID {
		return rep, apiErrorf(CodeConflict, "you cannot delete your own account")
	}
	if err := c.s.deps.Auth.DeleteUser(ctx, u.ID); err != nil {
		return rep, err
	}
	c.s.publishUser(userDeleted, u)
	c.s.closeUserConns(u.ID, "account deleted")
	return rep, nil
}

func (c *conn) handleUsersResetPassword(ctx context.Context, req request) (reply, error) {
	var p ResetPasswordParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	u, rep, err := c.targetUser(ctx, p.UserID)
	if err != nil {
		return rep, err
	}
	pw, generated := p.Password, ""
	if pw == "" {
		generated = randomPassword()
		pw = generated
		rep.detail = "generated"
	}
	if err := c.s.deps.Auth.SetPassword(ctx, u.ID, pw); err != nil {
		return rep, err
	}
	c.s.closeUserConns(u.ID, "password reset")
	rep.result = ResetPasswordResult{Password: generated}
	return rep, nil
}

func (c *conn) handleAuditList(ctx context.Context, req request) (reply, error) {
	var p AuditListParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	f := audit.Filter{User: p.User, Action: p.Action, BeforeID: p.BeforeID, Limit: p.Limit}
	var err error
	if f.Since, err = parseTimeParam("since", p.Since); err != nil {
		return reply{}, err
	}
	if f.Until, err = parseTimeParam("until", p.Until); err != nil {
		return reply{}, err
	}
	if p.Limit < 0 || p.Limit > 500 {
		return reply{}, apiErrorf(CodeInvalidParams, "limit must be between 1 and 500")
	}
	entries, next, err := c.s.deps.Audit.List(ctx, f)
	if err != nil {
		return reply{}, err
	}
	if entries == nil {
		entries = []audit.Entry{}
	}
	return reply{result: AuditListResult{Entries: entries, NextBeforeID: next}}, nil
}

func (c *conn) handleSessionLogout(ctx context.Context, _ request) (reply, error) {
	rep := reply{target: c.username()}
	if err := c.s.deps.Auth.Logout(ctx, c.token); err != nil {
		return rep, err
	}
	rep.after = func() { c.close(CloseNormal, "logged out") }
	return rep, nil
}

func (c *conn) handleChangePassword(ctx context.Context, req request) (reply, error) {
	var p ChangePasswordParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	sess := c.session()
	rep := reply{target: sess.User.Username}
	err := c.s.deps.Auth.ChangePassword(ctx, sess.User.ID, p.Current, p.New, c.token)
	if errors.Is(err, auth.ErrBadCredentials) {
		return rep, apiErrorf(CodeAuthFailed, "the current password is wrong")
	}
	if err != nil {
		return rep, err
	}
	c.s.closeUserConnsExcept(sess.User.ID, c.token, "password changed")
	return rep, nil
}

// parseTimeParam parses an optional RFC 3339 time.
func parseTimeParam(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, apiErrorf(CodeInvalidParams, "%s must be an RFC 3339 time such as 2026-01-02T15:04:05+08:00", name)
	}
	return t, nil
}

// describeUserChange names what an update changed, for the audit detail.
func describeUserChange(before, after auth.User) string {
	var parts []string
	if before.Role != after.Role {
		parts = append(parts, fmt.Sprintf("role %s->%s", before.Role, after.Role))
	}
	if before.Disabled != after.Disabled {
		if after.Disabled {
			parts = append(parts, "disabled")
		} else {
			parts = append(parts, "enabled")
		}
	}
	if before.DisplayName != after.DisplayName {
		parts = append(parts, "display name")
	}
	if before.Language != after.Language {
		parts = append(parts, "language "+after.Language)
	}
	return strings.Join(parts, ", ")
}

// randomPassword returns a random password of 26 base32 characters.
func randomPassword() string { return rand.Text() }
