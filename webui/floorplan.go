package webui

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"civic/building"
	"civic/internal/auth"
)

// Floor plans travel over plain HTTP, not the websocket: an image of up
// to 5 MiB is no console message. At FloorPlanPath:
//
//   - GET serves the plan (admins and facilities staff) with the content
//     type building stored, a Content-Security-Policy that lets nothing
//     run or load, and an ETag, so a page revalidates it cheaply;
//   - POST stores a new one (admins): the body is the image itself, with
//     Content-Type image/png or image/svg+xml (no multipart form);
//     building checks it and refuses an SVG that could run script or load
//     from elsewhere;
//   - DELETE removes it (admins).
//
// Each answers errors as {"error":{"code","message"}}. POST and DELETE
// are audited (building.floors.plan_upload, building.floors.plan_delete).
//
// Cross-site requests: the session cookie is SameSite=Strict, so another
// site's page cannot send it; a browser request whose Origin is another
// site, or that says Sec-Fetch-Site: cross-site, is refused anyway; and an
// image content type is not one a cross-site form or a "simple" fetch
// can send.

// maxFloorPlanBytes is the largest upload read: building's limit
// (Config.MaxFloorPlanBytes, 5 MiB by default, which civicd uses).
// building checks it again.
const maxFloorPlanBytes = 5 << 20

// floorPlanCSP is the Content-Security-Policy of a served plan: an SVG
// opened on its own may show inline styles but runs nothing and loads
// nothing, and the sandbox gives it an opaque origin.
const floorPlanCSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"

// Audit actions of the floor plan endpoints.
const (
	auditPlanUpload = "building.floors.plan_upload"
	auditPlanDelete = "building.floors.plan_delete"
)

// requestSession is the session of an HTTP API request: its bearer token
// (scripts) or its session cookie (the console). Without a valid one it
// answers 401 and reports false.
func (s *Server) requestSession(w http.ResponseWriter, r *http.Request) (auth.Session, bool) {
	h := r.Header.Get("Authorization")
	if !strings.HasPrefix(h, "Bearer ") {
		return s.cookieSession(w, r)
	}
	sess, err := s.deps.Auth.Authenticate(r.Context(), strings.TrimPrefix(h, "Bearer "))
	if err != nil {
		writeAPIError(w, http.StatusUnauthorized, CodeAuthFailed, "sign in first")
		return auth.Session{}, false
	}
	return sess, true
}

// crossSite reports whether a browser sent the request from another site.
func (s *Server) crossSite(r *http.Request) bool {
	return r.Header.Get("Sec-Fetch-Site") == "cross-site" || !s.checkOrigin(r)
}

// statusOf is the HTTP status of an error code.
func statusOf(code string) int {
	switch code {
	case CodeInvalidParams, CodeInvalidFormat:
		return http.StatusBadRequest
	case CodeNotFound:
		return http.StatusNotFound
	case CodeConflict:
		return http.StatusConflict
	case CodeNotAllowed:
		return http.StatusForbidden
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeUnavailable:
		return http.StatusServiceUnavailable
	case CodeAuthFailed:
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}

// planChange is the common start of POST and DELETE: a session, the admin
// role, a same-site request and a running building module. It answers and
// audits a refusal and reports false.
func (s *Server) planChange(w http.ResponseWriter, r *http.Request, action string) (auth.Session, Building, bool) {
	sess, ok := s.requestSession(w, r)
	if !ok {
		return sess, nil, false
	}
	target := named("floor", r.PathValue("id"))
	user, role, source := sess.User.Username, string(sess.User.Role), clientIP(r)
	if !allowed(adminOnly, sess.User.Role) {
		s.audit(r.Context(), user, role, action, target, auditDenied, "role "+role, source)
		writeAPIError(w, http.StatusForbidden, CodeNotAllowed, "only admins can change floor plans")
		return sess, nil, false
	}
	if s.crossSite(r) {
		s.log.Warn("cross-site floor plan change refused", "user", user, "source", source, "origin", truncate(r.Header.Get("Origin"), 100))
		s.audit(r.Context(), user, role, action, target, auditDenied, "cross-site request", source)
		writeAPIError(w, http.StatusForbidden, CodeNotAllowed, "a floor plan can only be changed from the console's own pages")
		return sess, nil, false
	}
	if s.deps.Building == nil {
		writeAPIError(w, http.StatusServiceUnavailable, CodeUnavailable, buildingOff)
		return sess, nil, false
	}
	return sess, s.deps.Building, true
}

// handleFloorPlanPost is POST FloorPlanPath: store a floor's new plan.
func (s *Server) handleFloorPlanPost(w http.ResponseWriter, r *http.Request) {
	sess, b, ok := s.planChange(w, r, auditPlanUpload)
	if !ok {
		return
	}
	floor := r.PathValue("id")
	fail := func(code, msg string) {
		s.audit(r.Context(), sess.User.Username, string(sess.User.Role), auditPlanUpload, named("floor", floor), auditFailed, msg, clientIP(r))
		writeAPIError(w, statusOf(code), code, msg)
	}
	declared, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || declared != building.PlanPNG && declared != building.PlanSVG {
		s.audit(r.Context(), sess.User.Username, string(sess.User.Role), auditPlanUpload, named("floor", floor), auditFailed,
			"content type "+truncate(r.Header.Get("Content-Type"), 64), clientIP(r))
		writeAPIError(w, http.StatusUnsupportedMediaType, CodeInvalidFormat,
			"a floor plan must be a PNG or SVG image, sent as the request body with Content-Type image/png or image/svg+xml")
		return
	}
	tooLarge := "a floor plan may be at most 5 MiB; make the image smaller (an SVG without embedded photos, or a PNG with fewer pixels)"
	if r.ContentLength > maxFloorPlanBytes {
		fail(CodeTooLarge, tooLarge)
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFloorPlanBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			fail(CodeTooLarge, tooLarge)
			return
		}
		fail(CodeInvalidFormat, "the upload was cut off; try again")
		return
	}
	isPNG := bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n"))
	switch {
	case declared == building.PlanPNG && !isPNG && len(data) > 0:
		fail(CodeInvalidParams, "the file was sent as a PNG image but is not one")
		return
	case declared == building.PlanSVG && isPNG:
		fail(CodeInvalidParams, "the file was sent as an SVG image but is a PNG")
		return
	}
	f, err := b.SetFloorPlan(r.Context(), floor, data)
	if err != nil {
		we := s.wireError(err)
		fail(we.Code, we.Message)
		return
	}
	s.audit(r.Context(), sess.User.Username, string(sess.User.Role), auditPlanUpload, named("floor", floor), auditOK,
		f.Plan+", "+humanBytes(len(data)), clientIP(r))
	writeJSON(w, http.StatusOK, FloorBody{Floor: f})
}

// handleFloorPlanDelete is DELETE FloorPlanPath: remove a floor's plan;
// its placements stay.
func (s *Server) handleFloorPlanDelete(w http.ResponseWriter, r *http.Request) {
	sess, b, ok := s.planChange(w, r, auditPlanDelete)
	if !ok {
		return
	}
	floor := r.PathValue("id")
	result, detail := auditOK, ""
	err := b.DeleteFloorPlan(r.Context(), floor)
	var we *WireError
	if err != nil {
		we = s.wireError(err)
		result, detail = auditFailed, we.Message
	}
	s.audit(r.Context(), sess.User.Username, string(sess.User.Role), auditPlanDelete, named("floor", floor), result, detail, clientIP(r))
	if we != nil {
		writeAPIError(w, statusOf(we.Code), we.Code, we.Message)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleFloorPlanGet is GET FloorPlanPath: the plan as stored, for admins
// and facilities staff.
func (s *Server) handleFloorPlanGet(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.requestSession(w, r)
	if !ok {
		return
	}
	if !allowed(doorKeepers, sess.User.Role) {
		writeAPIError(w, http.StatusForbidden, CodeNotAllowed, "only admins and facilities staff can see floor plans")
		return
	}
	if s.deps.Building == nil {
		writeAPIError(w, http.StatusServiceUnavailable, CodeUnavailable, buildingOff)
		return
	}
	floor := r.PathValue("id")
	ctype, data, err := s.deps.Building.FloorPlan(r.Context(), floor)
	if err != nil {
		we := s.wireError(err)
		writeAPIError(w, statusOf(we.Code), we.Code, we.Message)
		return
	}
	sum := sha256.Sum256(data)
	ext := ".png"
	if ctype == building.PlanSVG {
		ext = ".svg"
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", floorPlanCSP)
	h.Set("Content-Disposition", `inline; filename="floor-`+floor+ext+`"`)
	// The plan may change at any time: revalidate each use, cheaply.
	h.Set("Cache-Control", "private, no-cache")
	h.Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// humanBytes is a size for the audit detail.
func humanBytes(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/1024)
}
