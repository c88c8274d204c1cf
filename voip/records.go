package voip

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"civic/voip/b2bua"
)

// CallRecord is what the store keeps of one call (a CDR).
type CallRecord struct {
	ID          int64     `json:"id"`
	CallID      string    `json:"call_id"`
	Caller      string    `json:"caller"`
	Callee      string    `json:"callee"`       // the number dialled
	FinalTarget string    `json:"final_target"` // who was rung last, after forwarding and ring groups
	Started     time.Time `json:"started"`
	Answered    time.Time `json:"answered,omitzero"`
	Ended       time.Time `json:"ended,omitzero"`
	DurationMS  int64     `json:"duration_ms"` // answer to end; 0 when not answered
	Result      string    `json:"result"`
	Codec       string    `json:"codec,omitempty"`
	// CallerTransport and CalleeTransport are udp, tcp or tls; the
	// callee's is empty when nobody answered.
	CallerTransport string `json:"caller_transport"`
	CalleeTransport string `json:"callee_transport,omitempty"`
	// RTPFromCaller and RTPFromCallee count the RTP packets relayed from
	// each phone; zero on one side means one-way audio.
	RTPFromCaller uint64 `json:"rtp_from_caller"`
	RTPFromCallee uint64 `json:"rtp_from_callee"`
}

// RecordFilter selects call records. Zero fields select everything.
type RecordFilter struct {
	// Extension matches the caller, the number dialled or the final target.
	Extension string
	// Result is one of the b2bua results, for example "answered".
	Result string
	// From and To bound the start time: From <= started < To.
	From, To time.Time
	// Limit caps the rows, newest first. Default and maximum: 1000.
	Limit int
}

// MaxRecords is the most call records one query returns.
const MaxRecords = 1000

// recordFrom turns the engine's record into a CallRecord.
func recordFrom(r b2bua.Record) CallRecord {
	rec := CallRecord{
		CallID: r.CallID, Caller: r.Caller, Callee: r.Callee, FinalTarget: r.FinalTarget,
		Started: r.Started, Answered: r.Answered, Ended: r.Ended, Result: r.Result, Codec: r.Codec,
		CallerTransport: r.CallerTransport, CalleeTransport: r.CalleeTransport,
		RTPFromCaller: r.RTPFromCaller, RTPFromCallee: r.RTPFromCallee,
	}
	if !r.Answered.IsZero() && r.Ended.After(r.Answered) {
		rec.DurationMS = r.Ended.Sub(r.Answered).Milliseconds()
	}
	return rec
}

// saveRecord inserts rec and sets its ID.
func (s *Service) saveRecord(ctx context.Context, rec *CallRecord) error {
	res, err := s.db.ExecContext(ctx, `INSERT INTO call_records
		(call_id, caller, callee, final_target, started_at, answered_at, ended_at, duration_ms, result, codec, caller_transport, callee_transport,
		rtp_from_caller, rtp_from_callee)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		rec.CallID, rec.Caller, rec.Callee, rec.FinalTarget, rec.Started.UnixMilli(), nullTime(rec.Answered), nullTime(rec.Ended),
		rec.DurationMS, rec.Result, rec.Codec, rec.CallerTransport, rec.CalleeTransport,
		int64(rec.RTPFromCaller), int64(rec.RTPFromCallee))
	if err != nil {
		return fmt.Errorf("save call record: %w", err)
	}
	rec.ID, _ = res.LastInsertId()
	return nil
}

// CallRecords returns the call records f selects, newest first.
func (s *Service) CallRecords(ctx context.Context, f RecordFilter) ([]CallRecord, error) {
	var where []string
	var args []any
	if f.Extension != "" {
		where = append(where, "(caller = ? OR callee = ? OR final_target = ?)")
		args = append(args, f.Extension, f.Extension, f.Extension)
	}
	if f.Result != "" {
		where = append(where, "result = ?")
		args = append(args, f.Result)
	}
	if !f.From.IsZero() {
		where = append(where, "started_at >= ?")
		args = append(args, f.From.UnixMilli())
	}
	if !f.To.IsZero() {
		where = append(where, "started_at < ?")
		args = append(args, f.To.UnixMilli())
	}
	limit := f.Limit
	if limit <= 0 || limit > MaxRecords {
		limit = MaxRecords
	}
	q := `SELECT id, call_id, caller, callee, final_target, started_at, answered_at, ended_at, duration_ms, result, codec,
		caller_transport, callee_transport, rtp_from_caller, rtp_from_callee FROM call_records`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY started_at DESC, id DESC LIMIT ?"
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("call records: %w", err)
	}
	defer rows.Close()
	out := []CallRecord{}
	for rows.Next() {
		var r CallRecord
		var started int64
		var answered, ended sql.NullInt64
		if err := rows.Scan(&r.ID, &r.CallID, &r.Caller, &r.Callee, &r.FinalTarget, &started, &answered, &ended,
			&r.DurationMS, &r.Result, &r.Codec, &r.CallerTransport, &r.CalleeTransport, &r.RTPFromCaller, &r.RTPFromCallee); err != nil {
			return nil, fmt.Errorf("call records: %w", err)
		}
		r.Started = time.UnixMilli(started)
		if answered.Valid {
			r.Answered = time.UnixMilli(answered.Int64)
		}
		if ended.Valid {
			r.Ended = time.UnixMilli(ended.Int64)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("call records: %w", err)
	}
	return out, nil
}

// nullTime is t in unix milliseconds, or NULL when zero.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMilli()
}
