package webui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"civic/voip"
)

// Phones is what the console needs from the SIP module: the extension
// directory, ring groups, the live registration state of each phone, the
// live calls and the call records.
// *voip.Service implements it; main passes it in Deps.Phones.
type Phones interface {
	ListExtensions(ctx context.Context) ([]voip.Extension, error)
	CreateExtension(ctx context.Context, in voip.ExtensionInput) (voip.Extension, error)
	UpdateExtension(ctx context.Context, number string, in voip.ExtensionInput) (voip.Extension, error)
	DeleteExtension(ctx context.Context, number string) error
	ListRingGroups(ctx context.Context) ([]voip.RingGroup, error)
	CreateRingGroup(ctx context.Context, g voip.RingGroup) (voip.RingGroup, error)
	UpdateRingGroup(ctx context.Context, number string, g voip.RingGroup) (voip.RingGroup, error)
	DeleteRingGroup(ctx context.Context, number string) error
	// Phones is every extension with its registration state, by number.
	Phones() []voip.Phone
	// Calls are the live calls, oldest first.
	Calls() []voip.Call
	// Hangup ends a live call; voip.ErrNotFound when there is none.
	Hangup(ctx context.Context, id string) error
	// CallRecords are the records f selects, newest first.
	CallRecords(ctx context.Context, f voip.RecordFilter) ([]voip.CallRecord, error)
}

// Interface guard: the SIP module is what the console needs.
var _ Phones = (*voip.Service)(nil)

// phones returns the SIP module, or an unavailable error.
func (c *conn) phones() (Phones, error) {
	if c.s.deps.Phones == nil {
		return nil, apiErrorf(CodeUnavailable, "phones are not running on this server")
	}
	return c.s.deps.Phones, nil
}

func (c *conn) handleExtensionsList(ctx context.Context, _ request) (reply, error) {
	ph, err := c.phones()
	if err != nil {
		return reply{}, err
	}
	exts, err := ph.ListExtensions(ctx)
	if err != nil {
		return reply{}, err
	}
	return reply{result: ExtensionsResult{Extensions: nonNil(exts)}}, nil
}

func (c *conn) handleExtensionsCreate(ctx context.Context, req request) (reply, error) {
	var p voip.ExtensionInput
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	rep := reply{target: extensionTarget(p.Number)}
	ph, err := c.phones()
	if err != nil {
		return rep, err
	}
	ext, err := ph.CreateExtension(ctx, p)
	if err != nil {
		return rep, err
	}
	rep.result = ExtensionResult{Extension: ext}
	rep.detail = truncate(ext.Name, 120)
	return rep, nil
}

// handleExtensionsUpdate replaces an extension's settings. The params are
// the whole new extension, named by its number; an empty password keeps
// the old one.
func (c *conn) handleExtensionsUpdate(ctx context.Context, req request) (reply, error) {
	var p voip.ExtensionInput
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	rep := reply{target: extensionTarget(p.Number)}
	if p.Number == "" {
		return rep, apiErrorf(CodeInvalidParams, "number must name the extension to change")
	}
	ph, err := c.phones()
	if err != nil {
		return rep, err
	}
	before, found, err := findExtension(ctx, ph, p.Number)
	if err != nil {
		return rep, err
	}
	ext, err := ph.UpdateExtension(ctx, p.Number, p)
	if err != nil {
		return rep, err
	}
	if found {
		rep.detail = describeExtensionChange(before, ext, p.Password != "")
	}
	rep.result = ExtensionResult{Extension: ext}
	return rep, nil
}

func (c *conn) handleExtensionsDelete(ctx context.Context, req request) (reply, error) {
	var p NumberParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	rep := reply{target: extensionTarget(p.Number)}
	ph, err := c.phones()
	if err != nil {
		return rep, err
	}
	if before, found, err := findExtension(ctx, ph, p.Number); err == nil && found {
		rep.detail = truncate(before.Name, 120)
	}
	if err := ph.DeleteExtension(ctx, p.Number); err != nil {
		return rep, err
	}
	return rep, nil
}

func (c *conn) handleRingGroupsList(ctx context.Context, _ request) (reply, error) {
	ph, err := c.phones()
	if err != nil {
		return reply{}, err
	}
	groups, err := ph.ListRingGroups(ctx)
	if err != nil {
		return reply{}, err
	}
	for i := range groups {
		groups[i].Members = nonNil(groups[i].Members)
	}
	return reply{result: RingGroupsResult{RingGroups: nonNil(groups)}}, nil
}

func (c *conn) handleRingGroupsCreate(ctx context.Context, req request) (reply, error) {
	var p voip.RingGroup
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	rep := reply{target: ringGroupTarget(p.Number)}
	ph, err := c.phones()
	if err != nil {
		return rep, err
	}
	g, err := ph.CreateRingGroup(ctx, p)
	if err != nil {
		return rep, err
	}
	g.Members = nonNil(g.Members)
	rep.result = RingGroupResult{RingGroup: g}
	rep.detail = describeRingGroup(g)
	return rep, nil
}

// handleRingGroupsUpdate replaces a ring group's settings; the params are
// the whole new group, named by its number.
func (c *conn) handleRingGroupsUpdate(ctx context.Context, req request) (reply, error) {
	var p voip.RingGroup
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	rep := reply{target: ringGroupTarget(p.Number)}
	if p.Number == "" {
		return rep, apiErrorf(CodeInvalidParams, "number must name the ring group to change")
	}
	ph, err := c.phones()
	if err != nil {
		return rep, err
	}
	g, err := ph.UpdateRingGroup(ctx, p.Number, p)
	if err != nil {
		return rep, err
	}
	g.Members = nonNil(g.Members)
	rep.result = RingGroupResult{RingGroup: g}
	rep.detail = describeRingGroup(g)
	return rep, nil
}

func (c *conn) handleRingGroupsDelete(ctx context.Context, req request) (reply, error) {
	var p NumberParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	rep := reply{target: ringGroupTarget(p.Number)}
	ph, err := c.phones()
	if err != nil {
		return rep, err
	}
	if err := ph.DeleteRingGroup(ctx, p.Number); err != nil {
		return rep, err
	}
	return rep, nil
}

// phonesSnapshot is the voip.phones topic's snapshot: every extension
// with its registration state, ordered by number.
func (s *Server) phonesSnapshot() PhonesSnapshot {
	if s.deps.Phones == nil {
		return PhonesSnapshot{Phones: []voip.Phone{}}
	}
	phones := slices.Clone(s.deps.Phones.Phones())
	for i := range phones {
		phones[i].Bindings = nonNil(phones[i].Bindings)
	}
	slices.SortFunc(phones, func(a, b voip.Phone) int { return strings.Compare(a.Extension.Number, b.Extension.Number) })
	return PhonesSnapshot{Phones: nonNil(phones)}
}

// findExtension looks an extension up by number, for the audit detail.
func findExtension(ctx context.Context, ph Phones, number string) (voip.Extension, bool, error) {
	exts, err := ph.ListExtensions(ctx)
	if err != nil {
		return voip.Extension{}, false, err
	}
	for _, e := range exts {
		if e.Number == number {
			return e, true, nil
		}
	}
	return voip.Extension{}, false, nil
}

// voipError maps the SIP module's errors to the error sent to the client.
// voip wraps each sentinel with a sentence for the person at the console.
func voipError(err error) *WireError {
	switch {
	case errors.Is(err, voip.ErrNotFound):
		return &WireError{Code: CodeNotFound, Message: sentence(err, voip.ErrNotFound, "there is no extension or ring group with that number")}
	case errors.Is(err, voip.ErrExists):
		return &WireError{Code: CodeConflict, Message: sentence(err, voip.ErrExists, "that number is already taken")}
	case errors.Is(err, voip.ErrInvalid):
		return &WireError{Code: CodeInvalidParams, Message: sentence(err, voip.ErrInvalid, "the extension or ring group is not valid")}
	}
	return nil
}

// sentence is the user-facing part of an error that wraps sentinel: its
// text without the sentinel's own word, or fallback when there is none.
func sentence(err, sentinel error, fallback string) string {
	msg, s := err.Error(), sentinel.Error()
	msg = strings.TrimPrefix(msg, s+": ")
	msg = strings.TrimSuffix(msg, ": "+s)
	msg = strings.TrimSpace(msg)
	if msg == "" || msg == s {
		return fallback
	}
	return msg
}

func extensionTarget(number string) string { return "extension " + truncate(number, 32) }

func ringGroupTarget(number string) string { return "ring group " + truncate(number, 32) }

// describeExtensionChange names what an update changed, for the audit
// detail. It never carries the password, only that it was set.
func describeExtensionChange(before, after voip.Extension, password bool) string {
	var parts []string
	if before.Name != after.Name {
		parts = append(parts, "name")
	}
	if before.User != after.User {
		parts = append(parts, fmt.Sprintf("user %q", truncate(after.User, 32)))
	}
	if before.Department != after.Department {
		parts = append(parts, "department")
	}
	if before.ForwardAlways != after.ForwardAlways || before.ForwardBusy != after.ForwardBusy ||
		before.ForwardNoAnswer != after.ForwardNoAnswer || before.NoAnswerSeconds != after.NoAnswerSeconds {
		parts = append(parts, "forwarding")
	}
	if before.DND != after.DND {
		if after.DND {
			parts = append(parts, "do not disturb on")
		} else {
			parts = append(parts, "do not disturb off")
		}
	}
	if password {
		parts = append(parts, "password changed")
	}
	return strings.Join(parts, ", ")
}

// describeRingGroup is a ring group's audit detail.
func describeRingGroup(g voip.RingGroup) string {
	return truncate(fmt.Sprintf("%s: %s, members %s", g.Name, g.Strategy, strings.Join(g.Members, ",")), 160)
}

// nonNil turns a nil slice into an empty one, so JSON carries [] not null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
