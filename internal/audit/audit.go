// Package audit is civicd's append-only audit log: who did what, to what,
// with what result, when and from where. Every state-changing command a
// user makes is written here, as are refused commands and every login.
//
// The rows live in the store's audit_log table, whose triggers refuse
// UPDATE and DELETE, so an entry once written stays as written. Any civicd
// package that carries out user-initiated changes may import audit; the
// usual writer is the console (webui), which audits each request in one
// place, and main wires the append hook to the event bus.
package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Results of an audited action; Entry.Result is one of these.
const (
	ResultOK     = "ok"
	ResultDenied = "denied"
	ResultFailed = "failed"
)

// Paging limits of List.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Entry is one audit record.
//
// Detail is free text for people reading the log, such as "role official"
// or the reason a command failed. It must never hold a secret: no
// password, session token, PIN, door code or key, not even a wrong one;
// the log is shown to every admin and kept forever.
type Entry struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	User   string    `json:"user"`
	Role   string    `json:"role"`
	Action string    `json:"action"` // dotted, e.g. "users.create", "door.unlock"
	Target string    `json:"target"`
	Result string    `json:"result"` // ResultOK, ResultDenied or ResultFailed
	Detail string    `json:"detail,omitempty"`
	Source string    `json:"source"` // client address, or "cli"
}

// Log writes and reads the audit table. It is safe for concurrent use.
type Log struct {
	db       *sql.DB
	onAppend func(Entry)
	now      func() time.Time
}

// New returns the audit log on db, a store whose schema has audit_log.
// onAppend, if not nil, is called after each successful append, on the
// appending goroutine, with ID and At set; main uses it to publish the
// entry on the event bus, so it must not block.
func New(db *sql.DB, onAppend func(Entry)) *Log {
	return &Log{db: db, onAppend: onAppend, now: time.Now}
}

// Append records e. At defaults to now and is kept to the millisecond;
// Action and Result are required, and Result must be one of the Result
// constants.
func (l *Log) Append(ctx context.Context, e Entry) error {
	if e.Action == "" {
		return errors.New("audit: entry has no action")
	}
	switch e.Result {
	case ResultOK, ResultDenied, ResultFailed:
	default:
		return fmt.Errorf("audit %s: result %q is not ok, denied or failed", e.Action, e.Result)
	}
	if e.At.IsZero() {
		e.At = l.now()
	}
	ms := e.At.UnixMilli()
	res, err := l.db.ExecContext(ctx,
		`INSERT INTO audit_log (at, username, role, action, target, result, detail, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		ms, e.User, e.Role, e.Action, e.Target, e.Result, e.Detail, e.Source)
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	e.ID = id
	e.At = time.UnixMilli(ms)
	if l.onAppend != nil {
		l.onAppend(e)
	}
	return nil
}

// Filter selects audit entries; zero fields select everything.
type Filter struct {
	// User is an exact username.
	User string
	// Action is an exact action, or a prefix when it ends in "."
	// ("users." matches "users.create" and "users.delete").
	Action string
	// Since (inclusive) and Until (exclusive) bound the entry time.
	Since, Until time.Time
	// BeforeID pages backwards: only entries with a smaller id. Pass the
	// nextBeforeID of the previous page.
	BeforeID int64
	// Limit is the page size. Default: 50; at most 500.
	Limit int
}

// List returns the entries that match f, newest first, and the BeforeID
// of the next page, or 0 when there are no more. Paging is by id, so
// entries appended meanwhile never shift a page.
func (l *Log) List(ctx context.Context, f Filter) (entries []Entry, nextBeforeID int64, err error) {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	var where []string
	var args []any
	if f.User != "" {
		where, args = append(where, "username = ?"), append(args, f.User)
	}
	if prefix, ok := strings.CutSuffix(f.Action, "."); ok {
		// A range, so the (action, at) index serves it: "users." <= a < "users/".
		where = append(where, "action >= ? AND action < ?")
		args = append(args, prefix+".", prefix+"/")
	} else if f.Action != "" {
		where, args = append(where, "action = ?"), append(args, f.Action)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		where, args = append(where, "at < ?"), append(args, f.Until.UnixMilli())
	}
	if f.BeforeID > 0 {
		where, args = append(where, "id < ?"), append(args, f.BeforeID)
	}
	q := "SELECT id, at, username, role, action, target, result, detail, source FROM audit_log"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit+1) // one more tells whether a next page exists
	rows, err := l.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	out := make([]Entry, 0, min(limit, 64))
	for rows.Next() {
		var e Entry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.User, &e.Role, &e.Action, &e.Target, &e.Result, &e.Detail, &e.Source); err != nil {
			return nil, 0, fmt.Errorf("list audit: %w", err)
		}
		e.At = time.UnixMilli(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list audit: %w", err)
	}
	if len(out) > limit {
		out = out[:limit]
		nextBeforeID = out[limit-1].ID
	}
	return out, nextBeforeID, nil
}
