package webui

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"civic/internal/auth"
	"civic/voip"
)

// defaultRecordsLimit is how many call records voip.records.list returns
// when the request names no limit. The CSV export defaults to the most,
// voip.MaxRecords.
const defaultRecordsLimit = 100

// recordsExtension is what the extension filter accepts: what a phone can
// dial, which is more than the 2-5 digits of an extension.
var recordsExtension = regexp.MustCompile(`^[0-9A-Za-z*#+._-]{1,32}$`)

func (c *conn) handleCallsList(_ context.Context, _ request) (reply, error) {
	if _, err := c.phones(); err != nil {
		return reply{}, err
	}
	return reply{result: c.s.callsSnapshot()}, nil
}

// handleCallsHangup ends a live call. The audit entry names the call and
// who was on it, looked up before the call goes.
func (c *conn) handleCallsHangup(ctx context.Context, req request) (reply, error) {
	var p CallIDParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	rep := reply{target: callTarget(p.CallID)}
	if p.CallID == "" {
		return rep, apiErrorf(CodeInvalidParams, "call_id must name a live call")
	}
	ph, err := c.phones()
	if err != nil {
		return rep, err
	}
	calls := ph.Calls()
	if i := slices.IndexFunc(calls, func(x voip.Call) bool { return x.ID == p.CallID }); i >= 0 {
		rep.detail = describeCall(calls[i])
	}
	if err := ph.Hangup(ctx, p.CallID); err != nil {
		if errors.Is(err, voip.ErrNotFound) {
			return rep, apiErrorf(CodeNotFound, "there is no live call %s; it may have just ended", truncate(p.CallID, 64))
		}
		return rep, err
	}
	return rep, nil
}

func (c *conn) handleRecordsList(ctx context.Context, req request) (reply, error) {
	var p RecordsListParams
	if err := req.decode(&p); err != nil {
		return reply{}, err
	}
	f, err := p.filter(defaultRecordsLimit)
	if err != nil {
		return reply{}, err
	}
	ph, err := c.phones()
	if err != nil {
		return reply{}, err
	}
	recs, err := ph.CallRecords(ctx, f)
	if err != nil {
		return reply{}, err
	}
	return reply{result: RecordsResult{Records: nonNil(recs)}}, nil
}

// filter checks the params and turns them into voip's filter; def is the
// limit when none is given. Its errors are sentences for the person who
// set the filters.
func (p RecordsListParams) filter(def int) (voip.RecordFilter, error) {
	f := voip.RecordFilter{Extension: p.Extension, Result: p.Result, Limit: p.Limit}
	if p.Extension != "" && !recordsExtension.MatchString(p.Extension) {
		return f, apiErrorf(CodeInvalidParams, "extension must be a number such as 1001: at most 32 digits, letters or * # + . _ -")
	}
	if p.Result != "" && !slices.Contains(CallResults, p.Result) {
		return f, apiErrorf(CodeInvalidParams, "result must be one of %s", strings.Join(CallResults, ", "))
	}
	var err error
	if f.From, err = parseTimeParam("from", p.From); err != nil {
		return f, err
	}
	if f.To, err = parseTimeParam("to", p.To); err != nil {
		return f, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.To.After(f.From) {
		return f, apiErrorf(CodeInvalidParams, "to must be later than from")
	}
	switch {
	case p.Limit == 0:
		f.Limit = def
	case p.Limit < 0 || p.Limit > voip.MaxRecords:
		return f, apiErrorf(CodeInvalidParams, "limit must be between 1 and %d", voip.MaxRecords)
	}
	return f, nil
}

// callsSnapshot is the voip.calls topic's snapshot and the result of
// voip.calls.list: the live calls, oldest first.
func (s *Server) callsSnapshot() CallsResult {
	if s.deps.Phones == nil {
		return CallsResult{Calls: []voip.Call{}}
	}
	return CallsResult{Calls: nonNil(s.deps.Phones.Calls())}
}

func callTarget(id string) string { return "call " + truncate(id, 64) }

// describeCall is a call's audit detail: who called whom, who was ringing
// or talking when it was forwarded, and its state.
func describeCall(c voip.Call) string {
	d := fmt.Sprintf("caller %s, callee %s", truncate(c.Caller, 32), truncate(c.Callee, 32))
	if c.Target != "" && c.Target != c.Callee {
		d += ", target " + truncate(c.Target, 32)
	}
	return d + ", " + c.State
}

// recordsCSVHeader is the CSV export's header row, in column order. The
// order is documented in docs/console-protocol.md; scripts rely on it.
var recordsCSVHeader = []string{
	"id", "started", "answered", "ended", "caller", "callee", "final_target", "result", "duration_s",
	"codec", "caller_transport", "callee_transport", "rtp_from_caller", "rtp_from_callee", "call_id",
}

// handleRecordsCSV is GET /api/voip/records.csv: the call records the
// query selects (the filters of voip.records.list), newest first, for
// admins. It authenticates with the session cookie, like the console.
func (s *Server) handleRecordsCSV(w http.ResponseWriter, r *http.Request) {
	sess, ok := s.cookieSession(w, r)
	if !ok {
		return
	}
	if sess.User.Role != auth.RoleAdmin {
		writeAPIError(w, http.StatusForbidden, CodeNotAllowed, "only admins can export call records")
		return
	}
	if s.deps.Phones == nil {
		writeAPIError(w, http.StatusServiceUnavailable, CodeUnavailable, "phones are not running on this server")
		return
	}
	q := r.URL.Query()
	p := RecordsListParams{Extension: q.Get("extension"), Result: q.Get("result"), From: q.Get("from"), To: q.Get("to")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			writeAPIError(w, http.StatusBadRequest, CodeInvalidParams, fmt.Sprintf("limit must be between 1 and %d", voip.MaxRecords))
			return
		}
		p.Limit = n
	}
	f, err := p.filter(voip.MaxRecords)
	var ae *apiError
	if errors.As(err, &ae) {
		writeAPIError(w, http.StatusBadRequest, ae.code, ae.msg)
		return
	}
	recs, err := s.deps.Phones.CallRecords(r.Context(), f)
	if err != nil {
		s.log.Error("call records export", "err", err)
		writeAPIError(w, http.StatusInternalServerError, CodeInternal, "the server could not read the call records")
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="call-records.csv"`)
	// A UTF-8 byte order mark, as for the attendance export.
	_, _ = w.Write([]byte("\ufeff"))
	cw := csv.NewWriter(w)
	_ = cw.Write(recordsCSVHeader)
	for _, rec := range recs {
		_ = cw.Write(recordCSVRow(rec))
	}
	cw.Flush()
}

// recordCSVRow is one record in the order of recordsCSVHeader. Every cell
// a phone could have chosen (the number dialled, the Call-ID) is defused
// against formulas.
func recordCSVRow(r voip.CallRecord) []string {
	return []string{
		strconv.FormatInt(r.ID, 10),
		csvTime(r.Started), csvTime(r.Answered), csvTime(r.Ended),
		csvSafe(r.Caller), csvSafe(r.Callee), csvSafe(r.FinalTarget), csvSafe(r.Result),
		strconv.FormatFloat(float64(r.DurationMS)/1000, 'f', 3, 64),
		csvSafe(r.Codec), csvSafe(r.CallerTransport), csvSafe(r.CalleeTransport),
		strconv.FormatUint(r.RTPFromCaller, 10), strconv.FormatUint(r.RTPFromCallee, 10),
		csvSafe(r.CallID),
	}
}

// csvTime is an RFC 3339 time, or "" for none.
func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}
