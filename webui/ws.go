package webui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"civic/conference"
	"civic/internal/auth"
)

const (
	authTimeout      = 10 * time.Second
	writeTimeout     = 10 * time.Second
	pingInterval     = 30 * time.Second
	readIdleTimeout  = 75 * time.Second // a client that answers no ping for this long is gone
	sessionRecheck   = time.Minute      // how often a live socket re-validates its session
	closeGrace       = 2 * time.Second  // how long to wait for the peer's close reply
	subscriptionBuf  = 128
	floodStrikesMult = 2 // rate-limited messages allowed in a row, as a multiple of the burst
)

// conn is one authenticated console websocket.
type conn struct {
	s      *Server
	ws     *websocket.Conn
	log    *slog.Logger
	source string
	token  string

	ctx    context.Context
	cancel context.CancelFunc

	writeMu sync.Mutex // serialises writes of data frames
	closed  bool       // set under writeMu once the close frame is out

	closeOnce   sync.Once
	closeCode   int
	closeReason string

	mu      sync.Mutex
	sess    auth.Session
	subs    map[int64]*subscription
	lastID  int64
	part    *conference.Participant // the meeting this socket is in, if any
	partGen uint64                  // the participant's attachment to this socket
	waiter  *conference.Waiter      // the lobby this (guest's) socket waits in, if any
	viewers viewerSet               // the cameras this socket watches
	// softphoneID is this socket's registration as a softphone
	// (softphone.register), and softphoneOff ends it.
	softphoneID  string
	softphoneOff func()
	host         string // the Host the page was served from, for invite links

	bucket  tokenBucket
	strikes int
	subWG   sync.WaitGroup
}

// handleWS upgrades /api/ws and runs the connection until it ends.
func (s *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	if s.shuttingDown.Load() {
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		return
	}
	up := websocket.Upgrader{
		HandshakeTimeout: authTimeout,
		ReadBufferSize:   4096,
		WriteBufferSize:  4096,
		CheckOrigin:      s.checkOrigin,
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		// The upgrader has already answered (403 for a refused Origin).
		s.log.Info("websocket upgrade refused", "source", clientIP(r), "origin", r.Header.Get("Origin"), "err", err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		s:      s,
		ws:     ws,
		log:    s.log.With("source", clientIP(r)),
		source: clientIP(r),
		host:   r.Host,
		ctx:    ctx,
		cancel: cancel,
		subs:   make(map[int64]*subscription),
		bucket: newTokenBucket(s.opts.Rate, s.opts.Burst, time.Now),
	}
	if ck, err := r.Cookie(sessionCookie); err == nil {
		c.token = ck.Value
	}
	ws.SetReadLimit(s.opts.MaxMessageBytes)

	if !s.track(c) {
		cancel()
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(CloseGoingAway, "server shutting down"), time.Now().Add(time.Second))
		_ = ws.Close()
		return
	}
	defer s.untrack(c)

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.keepalive()
	}()
	err = c.readLoop()
	c.cancel()
	c.unregisterSoftphone()
	c.leaveMeeting()
	c.viewers.closeAll()
	<-writerDone // the close frame is out
	var ce *websocket.CloseError
	var ne net.Error
	answered := errors.As(err, &ce)
	silent := errors.As(err, &ne) && ne.Timeout() // it had its grace already
	if !answered && !silent {
		// The peer has not answered our close yet. Read and discard until it
		// hangs up, so closing does not reset the connection (and lose the
		// close frame) while it is still sending.
		nc := ws.NetConn()
		_ = nc.SetReadDeadline(time.Now().Add(closeGrace))
		_, _ = io.Copy(io.Discard, nc)
	}
	_ = ws.Close()
	c.subWG.Wait()
}

// close ends the connection with a close frame; the first call wins.
func (c *conn) close(code int, reason string) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closeCode, c.closeReason = code, reason
		c.mu.Unlock()
		c.cancel()
	})
}

// send encodes and writes a message.
func (c *conn) send(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		c.log.Error("encode console message", "err", err)
		return
	}
	c.sendRaw(b)
}

// sendRaw writes an encoded message. Whoever has something to say writes
// it directly under writeMu (the reader its results, each subscription's
// forwarder its events): one goroutine hop less per event than a writer
// goroutine, which matters when an event fans out to 1,000 sockets. A slow
// peer blocks only its own senders, for at most writeTimeout; the bus then
// drops that socket's events and it is resynced with a snapshot.
func (c *conn) sendRaw(b []byte) {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if c.closed {
		return
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		c.close(CloseNormal, "")
		return
	}
	c.s.metrics.wsOut.Inc()
}

// keepalive pings the peer, re-checks the session, and writes the close
// frame once the connection is closing.
func (c *conn) keepalive() {
	ping := time.NewTicker(pingInterval)
	defer ping.Stop()
	recheck := time.NewTicker(sessionRecheck)
	defer recheck.Stop()
	for {
		select {
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout)); err != nil {
				c.close(CloseNormal, "")
			}
		case <-recheck.C:
			c.recheckSession()
		case <-c.ctx.Done():
			c.mu.Lock()
			code, reason := c.closeCode, c.closeReason
			c.mu.Unlock()
			if code == 0 {
				code = CloseNormal
			}
			// Cut short a write stuck on a peer that stopped reading, then
			// send the close frame after whatever was written before it.
			_ = c.ws.NetConn().SetWriteDeadline(time.Now().Add(time.Second))
			c.writeMu.Lock()
			c.closed = true
			_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
			c.writeMu.Unlock()
			// Shorten the reader's wait for the peer's close reply.
			_ = c.ws.NetConn().SetReadDeadline(time.Now().Add(closeGrace))
			return
		}
	}
}

// recheckSession closes the socket when its session has expired or was
// revoked elsewhere (logout in another tab, a password reset from the CLI).
func (c *conn) recheckSession() {
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	sess, err := c.s.deps.Auth.Authenticate(ctx, c.token)
	if err != nil {
		if errors.Is(err, auth.ErrNoSession) {
			c.close(ClosePolicy, "session ended")
		}
		return
	}
	c.mu.Lock()
	changed := sess.User.Role != c.sess.User.Role
	c.mu.Unlock()
	if changed {
		c.close(ClosePolicy, "role changed")
	}
}

// readLoop authenticates the socket, then reads and dispatches requests in
// order until the connection ends or is being closed. It returns the read
// error that ended it, if any.
func (c *conn) readLoop() error {
	defer c.close(CloseNormal, "")
	c.send(map[string]string{"type": TypeAuthRequired})
	if !c.authenticate() {
		return nil
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(readIdleTimeout))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(readIdleTimeout))
	})
	for {
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.log.Info("console message too large; closing", "limit", c.s.opts.MaxMessageBytes)
				c.close(CloseTooBig, "message too large")
			}
			return err
		}
		if c.ctx.Err() != nil {
			return nil // closing; the rest is discarded
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(readIdleTimeout))
		c.s.metrics.wsIn.Inc()
		if !c.bucket.allow() {
			c.strikes++
			if c.strikes > c.s.opts.Burst*floodStrikesMult {
				c.log.Warn("console client flooding; closing", "user", c.username())
				c.close(ClosePolicy, "flood")
				return nil
			}
			id, _ := peekID(data)
			c.sendError(id, CodeRateLimited, "too many messages; slow down")
			continue
		}
		c.strikes = 0
		if mt != websocket.TextMessage {
			c.sendError(0, CodeInvalidFormat, "messages must be JSON text frames")
			continue
		}
		c.dispatch(data)
	}
}

// authenticate runs the auth handshake: the first message must be auth,
// carrying a token or relying on the session cookie.
func (c *conn) authenticate() bool {
	_ = c.ws.SetReadDeadline(time.Now().Add(authTimeout))
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		c.close(ClosePolicy, "auth timeout")
		return false
	}
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil || env.Type != TypeAuth {
		c.rejectAuth("the first message must be {\"type\":\"auth\"}")
		return false
	}
	token := env.Token
	if token == "" {
		token = c.token
	}
	if token == "" {
		c.rejectAuth("not signed in")
		return false
	}
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	sess, err := c.s.deps.Auth.Authenticate(ctx, token)
	if err != nil {
		if !errors.Is(err, auth.ErrNoSession) {
			c.log.Error("authenticate console socket", "err", err)
		}
		c.rejectAuth("session expired or not valid; sign in again")
		return false
	}
	c.mu.Lock()
	c.token, c.sess = token, sess
	c.log = c.log.With("user", sess.User.Username)
	c.mu.Unlock()
	c.send(AuthOK{Type: TypeAuthOK, User: sess.User, Role: sess.User.Role, Version: c.s.opts.Version})
	return true
}

func (c *conn) rejectAuth(msg string) {
	c.send(AuthInvalid{Type: TypeAuthInvalid, Message: msg})
	c.close(ClosePolicy, "auth failed")
}

func (c *conn) session() auth.Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess
}

func (c *conn) username() string { return c.session().User.Username }

// request is one decoded client request.
type request struct {
	ID   int64
	Type string
	raw  []byte
}

// decode fills params from the request's fields.
func (r request) decode(params any) error {
	dec := json.NewDecoder(bytes.NewReader(r.raw))
	if err := dec.Decode(params); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return apiErrorf(CodeInvalidParams, "field %q must be a %s", te.Field, te.Type.Kind())
		}
		return apiErrorf(CodeInvalidFormat, "request is not valid JSON")
	}
	return nil
}

// parseRequest checks a request's envelope: a JSON object with a positive
// id greater than lastID and a non-empty type. On failure it returns the
// error to send, with the id when one could be read.
func parseRequest(data []byte, lastID int64) (request, int64, *WireError) {
	var env struct {
		ID   *json.RawMessage `json:"id"`
		Type *string          `json:"type"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return request{}, 0, &WireError{Code: CodeInvalidFormat, Message: "message is not a JSON object"}
	}
	id, ok := parseID(env.ID)
	if !ok {
		return request{}, 0, &WireError{Code: CodeMissingID, Message: "every request needs a positive integer id"}
	}
	if id <= lastID {
		return request{}, id, &WireError{Code: CodeIDReuse, Message: "ids must increase on each connection"}
	}
	if env.Type == nil || *env.Type == "" {
		return request{}, id, &WireError{Code: CodeInvalidFormat, Message: "every request needs a type"}
	}
	return request{ID: id, Type: *env.Type, raw: data}, id, nil
}

// dispatch checks one request's envelope, type and role, runs its handler,
// audits it when it changes state, and sends exactly one reply.
func (c *conn) dispatch(data []byte) {
	c.mu.Lock()
	req, id, werr := parseRequest(data, c.lastID)
	// A well-formed id is used up even when the rest of the request is bad.
	c.lastID = max(c.lastID, id)
	sess := c.sess
	c.mu.Unlock()
	if werr != nil {
		c.send(Result{ID: id, Type: TypeResult, Success: false, Error: werr})
		return
	}
	spec, known := messageSpec(req.Type)
	h := c.s.handlers[req.Type]
	if !known || h == nil {
		c.sendError(id, CodeUnknownType, fmt.Sprintf("unknown message type %q", truncate(req.Type, 64)))
		return
	}
	role := sess.User.Role
	if !allowed(spec.Roles, role) {
		c.auditRequest(spec, "", auditDenied, "role "+string(role))
		c.sendError(id, CodeNotAllowed, "your role may not do this")
		return
	}
	if req.Type == TypePing {
		c.send(map[string]any{"id": id, "type": TypePong})
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	rep, err := h(c, ctx, req)
	cancel()
	if err != nil {
		we := c.s.wireError(err)
		if spec.Changes {
			c.auditRequest(spec, rep.target, auditFailed, we.Message)
		}
		c.send(Result{ID: id, Type: TypeResult, Success: false, Error: we})
		return
	}
	if spec.Changes {
		c.auditRequest(spec, rep.target, auditOK, rep.detail)
	}
	res := rep.result
	if res == nil {
		res = struct{}{}
	}
	c.send(Result{ID: id, Type: TypeResult, Success: true, Result: res})
	if rep.after != nil {
		rep.after()
	}
}

func (c *conn) sendError(id int64, code, msg string) {
	c.send(Result{ID: id, Type: TypeResult, Success: false, Error: &WireError{Code: code, Message: msg}})
}

func (c *conn) auditRequest(spec MessageSpec, target, result, detail string) {
	sess := c.session()
	c.s.audit(c.ctx, sess.User.Username, string(sess.User.Role), spec.Type, target, result, detail, c.source)
}

// parseID accepts a positive integer id.
func parseID(raw *json.RawMessage) (int64, bool) {
	if raw == nil {
		return 0, false
	}
	var id int64
	if err := json.Unmarshal(*raw, &id); err != nil || id <= 0 {
		return 0, false
	}
	return id, true
}

// peekID returns the id of a message without validating the rest.
func peekID(data []byte) (int64, bool) {
	var env struct {
		ID *json.RawMessage `json:"id"`
	}
	if json.Unmarshal(data, &env) != nil {
		return 0, false
	}
	return parseID(env.ID)
}

// tokenBucket is a per-connection rate limiter; only the read loop uses it.
type tokenBucket struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
	now    func() time.Time
}

func newTokenBucket(rate float64, burst int, now func() time.Time) tokenBucket {
	return tokenBucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now(), now: now}
}

func (b *tokenBucket) allow() bool {
	t := b.now()
	b.tokens += t.Sub(b.last).Seconds() * b.rate
	if b.tokens > b.burst {
		b.tokens = b.burst
	}
	b.last = t
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
