package webui

import (
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"civic/building"
)

// The access events export: GET AccessCSVPath with the filters of
// building.access.list as query parameters.

// Rows of the access events export: the default when the query names no
// limit, and the most.
const (
	defaultAccessCSVRows = 10000
	maxAccessCSVRows     = 100000
)

// accessCSVHeader is the export's header row, in column order. The order
// is documented in docs/console-protocol.md; scripts rely on it.
var accessCSVHeader = []string{
	"id", "time", "door", "door_name", "controller", "reader", "direction",
	"card", "cardholder", "cardholder_name", "granted", "reason",
}

// handleAccessCSV is GET /api/building/access.csv: the access events the
// query selects, newest first, for admins and facilities staff. It
// authenticates with the session cookie, like the console (or a bearer
// token), and reads building's pages one after another, so a long export
// is never held in memory whole.
func (s *Server) handleAccessCSV(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.requestSession(w, r)
	if !ok {
		return
	}
	if !allowed(doorKeepers, sess.User.Role) {
		writeAPIError(w, http.StatusForbidden, CodeNotAllowed, "only admins and facilities staff can export access events")
		return
	}
	if s.deps.Building == nil {
		writeAPIError(w, http.StatusServiceUnavailable, CodeUnavailable, buildingOff)
		return
	}
	f, err := accessQuery(r)
	var ae *apiError
	if errors.As(err, &ae) {
		writeAPIError(w, http.StatusBadRequest, ae.code, ae.msg)
		return
	}
	want := f.Limit
	f.Limit = min(want, maxBuildingLimit)
	evs, next, err := s.deps.Building.ListAccessEvents(r.Context(), f)
	if err != nil {
		s.log.Error("access events export", "err", err)
		writeAPIError(w, http.StatusInternalServerError, CodeInternal, "the server could not read the access events")
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="access-events.csv"`)
	// A UTF-8 byte order mark, so spreadsheet programs read Chinese names.
	_, _ = w.Write([]byte("\ufeff"))
	cw := csv.NewWriter(w)
	_ = cw.Write(accessCSVHeader)
	for written := 0; ; {
		for _, e := range evs {
			_ = cw.Write(accessCSVRow(e))
		}
		written += len(evs)
		if next == 0 || written >= want {
			break
		}
		f.BeforeID, f.Limit = next, min(want-written, maxBuildingLimit)
		if evs, next, err = s.deps.Building.ListAccessEvents(r.Context(), f); err != nil {
			// The rows so far are out; the export ends short, and says so
			// in the log.
			s.log.Error("access events export cut short", "rows", written, "err", err)
			break
		}
	}
	cw.Flush()
}

// accessQuery reads the export's query: the params of
// building.access.list, with granted as true or false.
func accessQuery(r *http.Request) (building.AccessFilter, error) {
	q := r.URL.Query()
	p := AccessListParams{Cardholder: q.Get("cardholder"), Card: q.Get("card"), Door: q.Get("door"), From: q.Get("from"), To: q.Get("to")}
	if v := q.Get("granted"); v != "" {
		g, err := strconv.ParseBool(v)
		if err != nil {
			return building.AccessFilter{}, apiErrorf(CodeInvalidParams, "granted must be true or false")
		}
		p.Granted = &g
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return building.AccessFilter{}, apiErrorf(CodeInvalidParams, "limit must be between 1 and %d", maxAccessCSVRows)
		}
		p.Limit = n
	}
	return p.filter(defaultAccessCSVRows, maxAccessCSVRows)
}

// accessCSVRow is one access event in the order of accessCSVHeader. Every
// text cell is defused against spreadsheet formulas: names are typed by
// people, and card and reader ids come from controllers.
func accessCSVRow(e building.AccessEvent) []string {
	return []string{
		strconv.FormatInt(e.ID, 10), csvTime(e.At),
		csvSafe(e.Door), csvSafe(e.DoorName), csvSafe(e.Controller), csvSafe(e.Reader), csvSafe(e.Direction),
		csvSafe(e.Card), csvSafe(e.Cardholder), csvSafe(e.CardholderName),
		fmt.Sprint(e.Granted), csvSafe(e.Reason),
	}
}
