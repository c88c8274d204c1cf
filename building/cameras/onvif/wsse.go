package onvif

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// createdLayout is wsu:Created: UTC with milliseconds, as cameras and the
// ONVIF test tool write it.
const createdLayout = "2006-01-02T15:04:05.000Z"

// securityHeader returns a fresh WS-Security UsernameToken. Cameras
// refuse a reused nonce and a Created too far from their own clock, so
// each request gets a new nonce and Created is our clock shifted by the
// camera's offset.
func (c *Client) securityHeader() string {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails
	created := time.Now().Add(c.clockOffset()).UTC().Format(createdLayout)
	return `<wsse:Security s:mustUnderstand="1" xmlns:wsse="` + nsWSSE + `" xmlns:wsu="` + nsWSU + `">` +
		`<wsse:UsernameToken><wsse:Username>` + esc(c.user) + `</wsse:Username>` +
		`<wsse:Password Type="` + passwordDigestType + `">` + passwordDigest(nonce, created, c.password) + `</wsse:Password>` +
		`<wsse:Nonce EncodingType="` + base64Encoding + `">` + base64.StdEncoding.EncodeToString(nonce) + `</wsse:Nonce>` +
		`<wsu:Created>` + created + `</wsu:Created></wsse:UsernameToken></wsse:Security>`
}

// passwordDigest is the UsernameToken Profile 1.0 digest:
// Base64(SHA-1(nonce + created + password)), over the raw nonce bytes.
func passwordDigest(nonce []byte, created, password string) string {
	h := sha1.New()
	h.Write(nonce)
	h.Write([]byte(created))
	h.Write([]byte(password))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// clockOffset is the camera's clock minus ours, as last measured.
func (c *Client) clockOffset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

// ClockOffset returns the camera's clock minus ours as last measured, and
// whether it has been measured.
func (c *Client) ClockOffset() (time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset, !c.syncedAt.IsZero()
}

// clockStale reports whether the last measurement, or attempt at one, is
// old enough to redo.
func (c *Client) clockStale() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.triedAt.IsZero() || time.Since(c.triedAt) > resyncAfter
}

// ensureClock measures the offset once, before the first authenticated
// call. A camera that won't tell its time is not fatal: we sign with our
// own clock, which works when the camera keeps good time.
func (c *Client) ensureClock(ctx context.Context) {
	c.mu.Lock()
	tried := c.syncTried
	c.mu.Unlock()
	if tried {
		return
	}
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	c.mu.Lock()
	tried = c.syncTried
	c.mu.Unlock()
	if tried { // another call measured it while we waited
		return
	}
	_, err := c.syncLocked(ctx)
	if err != nil && ctx.Err() != nil {
		return // our caller gave up; try again next time
	}
	c.mu.Lock()
	c.syncTried = true
	c.mu.Unlock()
	if err != nil {
		c.log.Warn("camera clock not read; signing with our own clock", "device", c.device.String(), "err", err)
	}
}

// SyncClock asks the camera for its time with GetSystemDateAndTime (sent
// without credentials, as ONVIF allows) and keeps the offset for signing
// later requests. It returns the offset: the camera's clock minus ours.
// Calls sync automatically on first use, so callers need it only to
// re-measure or to show the offset.
func (c *Client) SyncClock(ctx context.Context) (time.Duration, error) {
	if c.urlErr != nil {
		return 0, c.urlErr
	}
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	off, err := c.syncLocked(ctx)
	if err != nil {
		return 0, fmt.Errorf("onvif GetSystemDateAndTime: %w", err)
	}
	return off, nil
}

// syncLocked measures the offset; the caller holds syncMu.
func (c *Client) syncLocked(ctx context.Context) (time.Duration, error) {
	r := request{
		op:     "GetSystemDateAndTime",
		action: nsDevice + "/GetSystemDateAndTime",
		body:   `<tds:GetSystemDateAndTime xmlns:tds="` + nsDevice + `"/>`,
	}
	var resp struct {
		SystemDateAndTime struct {
			UTCDateTime *xmlDateTime `xml:"UTCDateTime"`
		} `xml:"SystemDateAndTime"`
	}
	t0 := time.Now()
	c.mu.Lock()
	c.triedAt = t0
	c.mu.Unlock()
	if err := c.do(ctx, c.device.String(), r, "GetSystemDateAndTimeResponse", &resp, false); err != nil {
		return 0, err
	}
	t1 := time.Now()
	if resp.SystemDateAndTime.UTCDateTime == nil {
		return 0, errors.New("the camera reported no UTC time")
	}
	cam, err := resp.SystemDateAndTime.UTCDateTime.time()
	if err != nil {
		return 0, err
	}
	// The camera's time is whole seconds, read somewhere between t0 and
	// t1: its true time lies in [cam, cam+1s), so compare the middle of
	// that second with the middle of the round trip.
	mid := t0.Add(t1.Sub(t0) / 2)
	off := cam.Add(500 * time.Millisecond).Sub(mid).Round(time.Millisecond)
	c.mu.Lock()
	c.offset, c.syncedAt = off, time.Now()
	c.mu.Unlock()
	c.log.Debug("camera clock measured", "device", c.device.String(), "offset", off)
	return off, nil
}

// xmlDateTime is tt:DateTime.
type xmlDateTime struct {
	Time struct {
		Hour   int `xml:"Hour"`
		Minute int `xml:"Minute"`
		Second int `xml:"Second"`
	} `xml:"Time"`
	Date struct {
		Year  int `xml:"Year"`
		Month int `xml:"Month"`
		Day   int `xml:"Day"`
	} `xml:"Date"`
}

// time checks the fields are in range: time.Date would quietly roll
// 2026-13-40 into 2027.
func (x *xmlDateTime) time() (time.Time, error) {
	d, t := x.Date, x.Time
	if d.Year < 1970 || d.Year > 9999 || d.Month < 1 || d.Month > 12 || d.Day < 1 || d.Day > 31 ||
		t.Hour < 0 || t.Hour > 23 || t.Minute < 0 || t.Minute > 59 || t.Second < 0 || t.Second > 60 {
		return time.Time{}, fmt.Errorf("the camera reported an impossible time %04d-%02d-%02d %02d:%02d:%02d",
			d.Year, d.Month, d.Day, t.Hour, t.Minute, t.Second)
	}
	return time.Date(d.Year, time.Month(d.Month), d.Day, t.Hour, t.Minute, t.Second, 0, time.UTC), nil
}
