package conference

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"
)

// MeetingOptions describe a meeting to create.
type MeetingOptions struct {
	// Title is 1-120 characters.
	Title string
	// Passcode, when not empty (4-16 characters), must be given to join by
	// everyone but the meeting's hosts; it is stored as a bcrypt hash.
	Passcode string
	// ScheduledAt is when the meeting is planned; zero for one held now.
	// It must lie ahead (up to scheduleSkew in the past is forgiven) and
	// within maxScheduleAhead.
	ScheduledAt time.Time
	// CoHosts are console usernames who host the meeting beside its
	// creator. The caller checks that they are users; at most maxCoHosts.
	CoHosts []string
	// NoLobby lets guests with an invite link in at once. By default they
	// wait in the lobby until a host admits them.
	NoLobby bool
}

// Scheduling limits.
const (
	scheduleSkew     = 5 * time.Minute
	maxScheduleAhead = 366 * 24 * time.Hour
	maxCoHosts       = 20
)

// validate checks the options against now and returns them cleaned: the
// title trimmed, co-hosts deduplicated (case-insensitively) without the
// host.
func (o MeetingOptions) validate(host string, now time.Time) (MeetingOptions, error) {
	o.Title = strings.TrimSpace(o.Title)
	if o.Title == "" || len(o.Title) > 120 {
		return o, fmt.Errorf("%w: title must be 1-120 characters", ErrInvalid)
	}
	if !o.ScheduledAt.IsZero() {
		if o.ScheduledAt.Before(now.Add(-scheduleSkew)) {
			return o, fmt.Errorf("%w: the scheduled time has already passed", ErrInvalid)
		}
		if o.ScheduledAt.After(now.Add(maxScheduleAhead)) {
			return o, fmt.Errorf("%w: a meeting can be scheduled at most a year ahead", ErrInvalid)
		}
	}
	var hosts []string
	for _, u := range o.CoHosts {
		u = strings.TrimSpace(u)
		if u == "" || strings.EqualFold(u, host) || slices.ContainsFunc(hosts, func(h string) bool { return strings.EqualFold(h, u) }) {
			continue
		}
		hosts = append(hosts, u)
	}
	if len(hosts) > maxCoHosts {
		return o, fmt.Errorf("%w: at most %d co-hosts", ErrInvalid, maxCoHosts)
	}
	o.CoHosts = hosts
	return o, nil
}

// HostedBy reports whether user hosts the meeting: its creator or a
// co-host (usernames match case-insensitively, like logins).
func (m Meeting) HostedBy(user string) bool {
	if user == "" {
		return false
	}
	return strings.EqualFold(user, m.Host) || slices.ContainsFunc(m.CoHosts, func(h string) bool { return strings.EqualFold(h, user) })
}

// coHosts returns the co-hosts of the given meetings, by meeting id.
func (s *Service) coHosts(ctx context.Context, ids ...int64) (map[int64][]string, error) {
	out := map[int64][]string{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	q := `SELECT meeting_id, username FROM meeting_hosts WHERE meeting_id IN (?` + strings.Repeat(",?", len(ids)-1) + `) ORDER BY rowid`
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("co-hosts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var u string
		if err := rows.Scan(&id, &u); err != nil {
			return nil, fmt.Errorf("co-hosts: %w", err)
		}
		out[id] = append(out[id], u)
	}
	return out, rows.Err()
}

// MyMeetings returns the meetings not ended that user hosts or co-hosts,
// live ones (someone is in them) first, then scheduled ones by their
// time, then the rest, newest first.
func (s *Service) MyMeetings(ctx context.Context, user string) ([]Meeting, error) {
	all, err := s.ListMeetings(ctx)
	if err != nil {
		return nil, err
	}
	mine := []Meeting{}
	for _, m := range all {
		if m.HostedBy(user) {
			mine = append(mine, m)
		}
	}
	SortMine(mine)
	return mine, nil
}

// SortMine orders meetings as MyMeetings does.
func SortMine(ms []Meeting) {
	rank := func(m Meeting) int {
		switch {
		case m.Participants > 0:
			return 0
		case !m.ScheduledAt.IsZero():
			return 1
		}
		return 2
	}
	slices.SortStableFunc(ms, func(a, b Meeting) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		if rank(a) == 1 {
			return a.ScheduledAt.Compare(b.ScheduledAt)
		}
		return b.CreatedAt.Compare(a.CreatedAt)
	})
}

// scanSchedule turns a nullable scheduled_at into a time (zero for NULL).
func scanSchedule(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMilli(v.Int64)
}

// insertMeeting stores m (without its id) and its co-hosts in one
// transaction, and returns it with its id.
func (s *Service) insertMeeting(ctx context.Context, m Meeting, passcodeHash string) (Meeting, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Meeting{}, err
	}
	defer tx.Rollback()
	var scheduled sql.NullInt64
	if !m.ScheduledAt.IsZero() {
		scheduled = sql.NullInt64{Int64: m.ScheduledAt.UnixMilli(), Valid: true}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO meetings (room, title, host, created_at, passcode_hash, scheduled_at, lobby, private) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		m.Room, m.Title, m.Host, m.CreatedAt.UnixMilli(), passcodeHash, scheduled, m.Lobby, m.Private)
	if err != nil {
		return Meeting{}, err
	}
	if m.ID, err = res.LastInsertId(); err != nil {
		return Meeting{}, err
	}
	for _, u := range m.CoHosts {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meeting_hosts (meeting_id, username) VALUES (?, ?)`, m.ID, u); err != nil {
			return Meeting{}, err
		}
	}
	m.CoHosts = orEmpty(m.CoHosts)
	return m, tx.Commit()
}

// orEmpty returns s, or an empty slice for nil, so JSON shows [].
func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
