package cameras

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

const cameraColumns = `id, name, rtsp_url, onvif_url, username, password, transport, snapshot_url, manufacturer, model,
	firmware, serial, profiles, profile, enabled, created_at, updated_at`

func scanCamera(row interface{ Scan(...any) error }) (Camera, error) {
	var c Camera
	var profiles string
	var created, updated int64
	err := row.Scan(&c.ID, &c.Name, &c.RTSPURL, &c.ONVIFURL, &c.Username, &c.Password, &c.Transport, &c.SnapshotURL,
		&c.Manufacturer, &c.Model, &c.Firmware, &c.Serial, &profiles, &c.Profile, &c.Enabled, &created, &updated)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal([]byte(profiles), &c.Profiles); err != nil || c.Profiles == nil {
		c.Profiles = []Profile{}
	}
	c.HasPassword = c.Password != ""
	c.CreatedAt, c.UpdatedAt = time.UnixMilli(created).UTC(), time.UnixMilli(updated).UTC()
	return c, nil
}

// loadAll reads every camera, by id.
func loadAll(ctx context.Context, db *sql.DB) ([]Camera, error) {
	rows, err := db.QueryContext(ctx, `SELECT `+cameraColumns+` FROM cameras ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("load cameras: %w", err)
	}
	defer rows.Close()
	var out []Camera
	for rows.Next() {
		c, err := scanCamera(rows)
		if err != nil {
			return nil, fmt.Errorf("load cameras: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// insert writes a new camera; ErrExists when its id is taken.
func insert(ctx context.Context, db *sql.DB, c Camera) error {
	profiles, _ := json.Marshal(c.Profiles)
	_, err := db.ExecContext(ctx, `INSERT INTO cameras (`+cameraColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, c.RTSPURL, c.ONVIFURL, c.Username, c.Password, c.Transport, c.SnapshotURL, c.Manufacturer, c.Model,
		c.Firmware, c.Serial, string(profiles), c.Profile, c.Enabled, c.CreatedAt.UnixMilli(), c.UpdatedAt.UnixMilli())
	if err != nil && strings.Contains(err.Error(), "UNIQUE") {
		return fmt.Errorf("%w: a camera with id %q exists", ErrExists, c.ID)
	}
	return err
}

// update replaces a camera's settings; ErrNotFound when it is gone.
func update(ctx context.Context, db *sql.DB, c Camera) error {
	profiles, _ := json.Marshal(c.Profiles)
	res, err := db.ExecContext(ctx, `UPDATE cameras SET name = ?, rtsp_url = ?, onvif_url = ?, username = ?, password = ?,
		transport = ?, snapshot_url = ?, manufacturer = ?, model = ?, firmware = ?, serial = ?, profiles = ?, profile = ?,
		enabled = ?, updated_at = ? WHERE id = ?`,
		c.Name, c.RTSPURL, c.ONVIFURL, c.Username, c.Password, c.Transport, c.SnapshotURL, c.Manufacturer, c.Model,
		c.Firmware, c.Serial, string(profiles), c.Profile, c.Enabled, c.UpdatedAt.UnixMilli(), c.ID)
	if err != nil {
		return err
	}
	return mustOne(res, c.ID)
}

// remove deletes a camera. Doors linked to it and its place on a floor
// plan keep its id; the console shows them as a removed camera, and an
// admin unlinks them in the door editor.
func remove(ctx context.Context, db *sql.DB, id string) error {
	res, err := db.ExecContext(ctx, `DELETE FROM cameras WHERE id = ?`, id)
	if err != nil {
		return err
	}
	return mustOne(res, id)
}

func mustOne(res sql.Result, id string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: no camera %q", ErrNotFound, id)
	}
	return nil
}
