// Package onvif is a lean ONVIF client for IP cameras: it reads a camera's
// identity, services, media profiles, stream and snapshot URIs, fetches
// snapshots, pulls motion and tamper events, and finds cameras with
// WS-Discovery.
//
// It speaks SOAP 1.2 with a WS-Security UsernameToken (PasswordDigest)
// written from the ONVIF Core and Media specifications, measures and
// corrects for a camera's clock offset so digests are accepted by cameras
// whose clocks are wrong, and decodes responses by local element names,
// since cameras disagree on prefixes and namespaces.
//
// It holds no application state beyond what the protocol needs (the clock
// offset and the service addresses of one camera) and logs nothing secret.
// The building service's camera glue imports it; tests use package
// onviftest as the camera.
package onvif

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// ErrAuth is returned (wrapped, with a sentence saying what was refused)
// when a camera refuses our credentials: a ter:NotAuthorized or
// WS-Security fault, or HTTP 401/403.
var ErrAuth = errors.New("auth failed")

var _ error = (*Fault)(nil)

// Options configures a Client. Zero values take the defaults.
type Options struct {
	// HTTPClient sends the requests. Default: a client with no timeout of
	// its own; Timeout bounds each request.
	HTTPClient *http.Client
	// Timeout bounds each request (a PullMessages gets its own wait on
	// top). Default: 5 s.
	Timeout time.Duration
	// Logger receives debug lines for each call (never bodies or
	// credentials) and warnings. Default: discard.
	Logger *slog.Logger
	// NoClockSync turns off the automatic SyncClock on first use and
	// after an auth failure; digests then carry our own clock. For
	// cameras that refuse an anonymous GetSystemDateAndTime, and for
	// tests. Default: false.
	NoClockSync bool
}

// Client talks to one camera. It is safe for concurrent use.
type Client struct {
	device   *url.URL // the device service, without user info
	urlErr   error    // set when the device URL is unusable
	user     string
	password string
	hc       *http.Client
	timeout  time.Duration
	log      *slog.Logger
	noSync   bool

	syncMu sync.Mutex // serialises clock measurements

	mu        sync.Mutex // guards the fields below
	offset    time.Duration
	syncTried bool      // a first sync was attempted (it may have failed)
	syncedAt  time.Time // when the clock was last measured, on our clock
	triedAt   time.Time // when a measurement was last attempted
	services  *Services
	media1    bool // Media2 failed; use Media ver10 from now on
}

// resyncAfter is how old a clock measurement must be before an auth
// failure triggers a new one: a camera whose clock drifted during days of
// uptime is caught, while a wrong password costs one extra request at
// most once a minute.
const resyncAfter = time.Minute

// NewClient returns a client for the camera whose device service is at
// deviceURL (http://host:port/onvif/device_service). An empty user sends
// no credentials. A malformed URL is reported by the first call.
func NewClient(deviceURL, user, password string, o Options) *Client {
	c := &Client{user: user, password: password, hc: o.HTTPClient, timeout: o.Timeout, log: o.Logger, noSync: o.NoClockSync}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	if c.timeout <= 0 {
		c.timeout = 5 * time.Second
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	u, err := url.Parse(deviceURL)
	switch {
	case err != nil:
		// url.Parse's error quotes the URL, which may hold a password.
		c.urlErr = errors.New("onvif: the device URL is malformed")
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		c.urlErr = errors.New("onvif: the device URL must be http://host[:port]/path")
	default:
		u.User = nil // credentials go in the SOAP header, never the URL
		c.device = u
	}
	return c
}

// DeviceURL returns the device service URL the client talks to, without
// any user info.
func (c *Client) DeviceURL() string {
	if c.device == nil {
		return ""
	}
	return c.device.String()
}

// call sends one authenticated SOAP request to endpoint and decodes the
// response element named want into out. It syncs the clock on first use
// and, when the camera refuses us and the last measurement is old, once
// more before a single retry: a refused request did nothing, so repeating
// it is safe.
func (c *Client) call(ctx context.Context, endpoint string, r request, want string, out any) error {
	if c.urlErr != nil {
		return c.urlErr
	}
	auth := c.user != ""
	if auth && !c.noSync {
		c.ensureClock(ctx)
	}
	err := c.do(ctx, endpoint, r, want, out, auth)
	if errors.Is(err, ErrAuth) && auth && !c.noSync && c.clockStale() {
		if _, serr := c.SyncClock(ctx); serr == nil {
			err = c.do(ctx, endpoint, r, want, out, auth)
		}
	}
	if err != nil {
		return fmt.Errorf("onvif %s: %w", r.op, err)
	}
	return nil
}

// request is one SOAP call.
type request struct {
	op     string // operation name, for logs and errors
	action string // the SOAP action URI
	body   string // the Body's content
	header string // extra header elements (WS-Addressing for pull points)
	wait   time.Duration
}

// do sends r once. auth adds the UsernameToken.
func (c *Client) do(ctx context.Context, endpoint string, r request, want string, out any, auth bool) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout+r.wait)
	defer cancel()
	start := time.Now()
	resp, err := c.post(ctx, endpoint, r, auth, "")
	if err != nil {
		return err
	}
	// Some cameras guard the SOAP endpoints with HTTP authentication as
	// well as (or instead of) WS-Security.
	if resp.StatusCode == http.StatusUnauthorized && auth {
		if chs := parseChallenges(resp.Header.Values("Www-Authenticate")); len(chs) > 0 {
			if h, herr := authorization(chs, http.MethodPost, requestURI(endpoint), c.user, c.password); herr == nil {
				drain(resp)
				if resp, err = c.post(ctx, endpoint, r, auth, h); err != nil {
					return err
				}
			}
		}
	}
	defer resp.Body.Close()
	data, err := readLimited(resp.Body, maxResponse)
	c.log.Debug("onvif call", "op", r.op, "endpoint", endpoint, "status", resp.StatusCode, "bytes", len(data), "took", time.Since(start).Round(time.Millisecond))
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	derr := decodeEnvelope(data, want, out)
	var f *Fault
	if errors.As(derr, &f) {
		if f.authFault() {
			return c.authErr(f)
		}
		return f
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return c.authErr(&statusError{resp.StatusCode, resp.Status})
	case resp.StatusCode/100 != 2:
		return &statusError{resp.StatusCode, resp.Status}
	}
	return derr
}

// statusError is an HTTP error status with no SOAP fault in the body.
type statusError struct {
	code   int
	status string
}

// Error shows the status line.
func (e *statusError) Error() string { return "HTTP " + e.status }

// authErr words a refusal: who was refused, and what to check. It wraps
// both ErrAuth and the cause (a *Fault or the HTTP status).
func (c *Client) authErr(cause error) error {
	if c.user == "" {
		return fmt.Errorf("%w: the camera wants a user name and password (%w)", ErrAuth, cause)
	}
	return fmt.Errorf("%w: the camera refused user %q: check the user name and password, and that the user may make this call (%w)", ErrAuth, c.user, cause)
}

// post sends the envelope; httpAuth is an HTTP Authorization value or "".
func (c *Client) post(ctx context.Context, endpoint string, r request, auth bool, httpAuth string) (*http.Response, error) {
	env := c.envelope(r, auth)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(env))
	if err != nil {
		return nil, fmt.Errorf("bad endpoint: %w", err)
	}
	req.Header.Set("Content-Type", `application/soap+xml; charset=utf-8; action="`+r.action+`"`)
	if httpAuth != "" {
		req.Header.Set("Authorization", httpAuth)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err // a *url.Error: the endpoint has no user info
	}
	return resp, nil
}

// envelope builds the SOAP 1.2 request.
func (c *Client) envelope(r request, auth bool) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>`)
	b.WriteString(`<s:Envelope xmlns:s="` + nsSOAP + `"><s:Header>`)
	if auth {
		b.WriteString(c.securityHeader())
	}
	b.WriteString(r.header)
	b.WriteString(`</s:Header><s:Body>`)
	b.WriteString(r.body)
	b.WriteString(`</s:Body></s:Envelope>`)
	return b.Bytes()
}

// rebase moves a service address the camera reported onto the host of
// the device URL, keeping its path. Cameras behind NAT or with several
// interfaces report addresses the caller cannot reach, and rebasing
// means our digests only ever go to the host the caller named.
func (c *Client) rebase(xaddr string) string {
	u, err := url.Parse(strings.TrimSpace(xaddr))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	v := *c.device
	v.Path, v.RawPath, v.RawQuery, v.Fragment = u.Path, u.RawPath, u.RawQuery, ""
	return v.String()
}

// requestURI is the path and query of an endpoint, for HTTP digest.
func requestURI(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "/"
	}
	return u.RequestURI()
}

// readLimited reads at most max bytes, failing when there is more.
func readLimited(r io.Reader, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return data, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("response larger than %d KiB", max>>10)
	}
	return data, nil
}

// drain reads a little of a response we don't need, so the connection can
// be reused, and closes it.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}
