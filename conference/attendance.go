package conference

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Attendance is one stay of one participant in a meeting.
type Attendance struct {
	ParticipantID string    `json:"participant_id"`
	Name          string    `json:"name"`
	User          string    `json:"user"`
	Source        string    `json:"source"`
	JoinedAt      time.Time `json:"joined_at"`
	LeftAt        time.Time `json:"left_at,omitzero"` // zero while still in
}

// attend records that p joined. The record is kept even if writing it
// fails for a moment: the failure is logged, and the call goes on.
func (s *Service) attend(meetingID int64, p *Participant) {
	_, err := s.db.Exec(`INSERT INTO attendance (meeting_id, participant_id, name, username, source, joined_at) VALUES (?, ?, ?, ?, ?, ?)`,
		meetingID, p.id, p.who.Name, p.who.User, p.who.Source, time.Now().UnixMilli())
	if err != nil {
		s.log.Error("record attendance", "participant", p.id, "err", err)
	}
}

// left records when p left.
func (s *Service) left(p *Participant) {
	if _, err := s.db.Exec(`UPDATE attendance SET left_at = ? WHERE participant_id = ? AND left_at IS NULL`, time.Now().UnixMilli(), p.id); err != nil {
		s.log.Error("record leaving", "participant", p.id, "err", err)
	}
}

// Hosts returns the host and co-hosts of a meeting, ended or not.
func (s *Service) Hosts(ctx context.Context, roomNo string) ([]string, error) {
	var id int64
	var host string
	err := s.db.QueryRowContext(ctx, `SELECT id, host FROM meetings WHERE room = ?`, roomNo).Scan(&id, &host)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoMeeting
	}
	if err != nil {
		return nil, fmt.Errorf("meeting %s: %w", roomNo, err)
	}
	co, err := s.coHosts(ctx, id)
	if err != nil {
		return nil, err
	}
	return append([]string{host}, co[id]...), nil
}

// AttendanceOf returns the attendance record of a meeting, in join order.
func (s *Service) AttendanceOf(ctx context.Context, roomNo string) ([]Attendance, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT a.participant_id, a.name, a.username, a.source, a.joined_at, a.left_at
		FROM attendance a JOIN meetings m ON m.id = a.meeting_id WHERE m.room = ? ORDER BY a.joined_at, a.id`, roomNo)
	if err != nil {
		return nil, fmt.Errorf("attendance of %s: %w", roomNo, err)
	}
	defer rows.Close()
	out := []Attendance{}
	for rows.Next() {
		var a Attendance
		var joined int64
		var left *int64
		if err := rows.Scan(&a.ParticipantID, &a.Name, &a.User, &a.Source, &joined, &left); err != nil {
			return nil, fmt.Errorf("attendance of %s: %w", roomNo, err)
		}
		a.JoinedAt = time.UnixMilli(joined)
		if left != nil {
			a.LeftAt = time.UnixMilli(*left)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
