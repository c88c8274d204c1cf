package rtsp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"
)

// errBroken means the connection's read side is out of step (a read was
// cut off half way), so no response can be read from it any more; a
// request can still be written, which is all a last TEARDOWN needs.
var errBroken = errors.New("rtsp: connection unusable after an interrupted read")

// past is a deadline that has already passed, to unblock readers.
var past = time.Unix(1, 0)

// maxAuthRounds bounds how often one request is re-sent after a 401.
const maxAuthRounds = 4

// conn is one RTSP control connection. Before Play, requests are
// synchronous: the goroutine that sends a request reads its response.
// Once Play starts the demultiplexer (startDemux, readLoop), one
// goroutine reads everything and hands responses to the waiting
// requests by CSeq, because RTP frames and responses share the stream.
type conn struct {
	nc       net.Conn
	r        *msgReader
	log      *slog.Logger
	timeout  time.Duration
	ua       string
	user     string
	pass     string
	hasCreds bool
	getParam bool // GET_PARAMETER is in the OPTIONS Public header

	wmu     sync.Mutex // serialises writes; guards the fields below
	cseq    int
	auth    *authenticator
	session string
	wbuf    bytes.Buffer

	readTok  chan struct{} // held by the one synchronous reader
	demuxOn  chan struct{} // closed when the demultiplexer starts
	loopDone chan struct{} // closed when it ends
	pmu      sync.Mutex    // guards the fields below
	demux    bool
	broken   bool
	loopErr  error
	pending  map[int]chan *response
}

func newConn(nc net.Conn, o Options, t target, log *slog.Logger) *conn {
	return &conn{
		nc: nc, r: newMsgReader(nc, o.MaxPacket), log: log, timeout: o.Timeout, ua: o.UserAgent,
		user: t.user, pass: t.pass, hasCreds: t.user != "" || t.pass != "",
		readTok: make(chan struct{}, 1), demuxOn: make(chan struct{}), loopDone: make(chan struct{}),
		pending: map[int]chan *response{},
	}
}

// do sends a request and returns its 2xx response, answering 401
// challenges on the way. hdr is name, value pairs; empty values are left
// out. Any other status is a *StatusError, returned with the response.
func (c *conn) do(ctx context.Context, method, url string, hdr ...string) (*response, error) {
	stale := 0
	for round := 0; ; round++ {
		resp, sentAuth, err := c.roundTrip(ctx, method, url, hdr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", method, err)
		}
		if resp.code == 401 && round < maxAuthRounds {
			if err := c.challenged(resp, sentAuth, &stale); err != nil {
				return nil, fmt.Errorf("%s: %w", method, err)
			}
			continue
		}
		if resp.code == 401 {
			return nil, fmt.Errorf("%s: %w: still refused after %d tries", method, ErrAuth, round+1)
		}
		if resp.code < 200 || resp.code > 299 {
			return resp, &StatusError{Code: resp.code, Reason: resp.reason, Method: method}
		}
		return resp, nil
	}
}

// challenged prepares the answer to a 401, or says why there is none.
func (c *conn) challenged(resp *response, sentAuth bool, stale *int) error {
	if !c.hasCreds {
		return fmt.Errorf("%w: the server wants credentials and none were given", ErrAuth)
	}
	chs, err := parseChallenges(resp.header["www-authenticate"])
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	switch {
	case sentAuth && c.auth != nil && *stale < 2 && c.auth.renew(chs):
		*stale++ // right credentials, expired nonce: try once more
		return nil
	case sentAuth:
		return fmt.Errorf("%w: credentials refused", ErrAuth)
	case c.auth != nil:
		return nil // another request met the challenge meanwhile
	}
	a, err := newAuthenticator(chs, c.user, c.pass)
	if err != nil {
		return err
	}
	c.auth = a
	return nil
}

// roundTrip sends one request and waits for the response with its CSeq.
// sentAuth reports whether the request carried credentials.
func (c *conn) roundTrip(ctx context.Context, method, url string, hdr []string) (*response, bool, error) {
	for {
		c.pmu.Lock()
		broken, demux := c.broken, c.demux
		c.pmu.Unlock()
		switch {
		case broken:
			_, sent, err := c.write(method, url, hdr, nil)
			if err == nil {
				err = errBroken
			}
			return nil, sent, err
		case demux:
			return c.viaDemux(ctx, method, url, hdr)
		}
		select {
		case c.readTok <- struct{}{}:
			resp, sent, err := c.sync(ctx, method, url, hdr)
			<-c.readTok
			return resp, sent, err
		case <-c.demuxOn:
			// Play took over reading while we waited; go through it.
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

// sync writes a request and reads until its response.
func (c *conn) sync(ctx context.Context, method, url string, hdr []string) (*response, bool, error) {
	c.pmu.Lock()
	demux := c.demux
	c.pmu.Unlock()
	if demux { // started between our check and taking the token
		return c.viaDemux(ctx, method, url, hdr)
	}
	deadline := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.nc.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(past) })
	defer stop()
	cseq, sent, err := c.write(method, url, hdr, nil)
	if err != nil {
		return nil, sent, c.readErr(ctx, err)
	}
	for {
		m, err := c.r.next()
		if err != nil {
			c.pmu.Lock()
			c.broken = true
			c.pmu.Unlock()
			return nil, sent, c.readErr(ctx, err)
		}
		switch {
		case m.frame:
			// Data before PLAY's answer is not ours to deliver yet.
		case m.req != nil:
			c.answer(m.req)
		case m.resp.cseq < cseq:
			// A late answer to a request we gave up on.
		case m.resp.cseq > cseq:
			return nil, sent, malformed("response CSeq %d, expected %d", m.resp.cseq, cseq)
		default:
			return m.resp, sent, nil
		}
	}
}

// readErr explains a failed read or write.
func (c *conn) readErr(ctx context.Context, err error) error {
	var ne net.Error
	timeout := errors.As(err, &ne) && ne.Timeout()
	d, hasDeadline := ctx.Deadline()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case timeout && hasDeadline && !time.Now().Before(d):
		// The socket deadline was the context's, and the context's own
		// timer has not fired yet.
		return context.DeadlineExceeded
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("connection closed by the server: %w", err)
	case timeout:
		return fmt.Errorf("no answer within %v: %w", c.timeout, err)
	}
	return err
}

// viaDemux sends a request while readLoop reads, and waits for readLoop
// to hand over the response.
func (c *conn) viaDemux(ctx context.Context, method, url string, hdr []string) (*response, bool, error) {
	ch := make(chan *response, 1)
	var cseq int
	_, sent, err := c.write(method, url, hdr, func(n int) {
		cseq = n
		c.pmu.Lock()
		if c.pending != nil {
			c.pending[n] = ch
		}
		c.pmu.Unlock()
	})
	forget := func() {
		c.pmu.Lock()
		delete(c.pending, cseq)
		c.pmu.Unlock()
	}
	if err != nil {
		forget()
		return nil, sent, c.readErr(ctx, err)
	}
	t := time.NewTimer(c.timeout)
	defer t.Stop()
	select {
	case r := <-ch:
		return r, sent, nil
	case <-c.loopDone:
		select {
		case r := <-ch: // handed over just before the loop ended
			return r, sent, nil
		default:
		}
		return nil, sent, fmt.Errorf("connection lost: %w", c.loopErr)
	case <-ctx.Done():
		forget()
		return nil, sent, ctx.Err()
	case <-t.C:
		forget()
		return nil, sent, fmt.Errorf("no answer within %v", c.timeout)
	}
}

// write sends one request; register, if set, learns its CSeq before the
// request leaves, so its response cannot overtake the registration.
func (c *conn) write(method, url string, hdr []string, register func(int)) (cseq int, sentAuth bool, err error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.cseq++
	if register != nil {
		register(c.cseq)
	}
	var authz string
	if c.auth != nil {
		authz = c.auth.header(method, url)
	}
	c.wbuf.Reset()
	all := append([]string{"User-Agent", c.ua, "Authorization", authz, "Session", c.session}, hdr...)
	writeRequest(&c.wbuf, method, url, c.cseq, all)
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.timeout))
	_, err = c.nc.Write(c.wbuf.Bytes())
	return c.cseq, c.auth != nil, err
}

// answer replies to a request from the server: yes to the keepalive
// kinds, 501 to the rest. Its CSeq is echoed only when it is a number.
func (c *conn) answer(req *serverRequest) {
	status := "501 Not Implemented"
	switch req.method {
	case "OPTIONS", "GET_PARAMETER", "SET_PARAMETER":
		status = "200 OK"
	}
	msg := "RTSP/1.0 " + status + "\r\n"
	if _, err := strconv.Atoi(req.cseq); err == nil && len(req.cseq) < 12 {
		msg += "CSeq: " + req.cseq + "\r\n"
	}
	msg += "\r\n"
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.timeout))
	_, _ = c.nc.Write([]byte(msg))
	c.log.Debug("rtsp: answered a server request", "method", req.method, "status", status)
}

// startDemux makes readLoop the only reader, once any synchronous
// request in flight has its answer.
func (c *conn) startDemux(ctx context.Context) error {
	select {
	case c.readTok <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.readTok }()
	c.pmu.Lock()
	defer c.pmu.Unlock()
	if c.broken {
		return errBroken
	}
	_ = c.nc.SetReadDeadline(time.Time{})
	c.demux = true
	close(c.demuxOn)
	return nil
}

// readLoop reads the connection until an error: frames go to onFrame,
// responses to the requests waiting for them. It always returns an error;
// a cut-off read leaves the connection broken.
func (c *conn) readLoop(onFrame func(channel byte, payload []byte) error) error {
	err := c.loop(onFrame)
	c.pmu.Lock()
	c.broken, c.loopErr, c.pending = true, err, nil
	close(c.loopDone)
	c.pmu.Unlock()
	return err
}

func (c *conn) loop(onFrame func(channel byte, payload []byte) error) error {
	for {
		m, err := c.r.next()
		if err != nil {
			return c.readErr(context.Background(), err)
		}
		switch {
		case m.frame:
			if err := onFrame(m.channel, m.payload); err != nil {
				return err
			}
		case m.req != nil:
			c.answer(m.req)
		default:
			c.pmu.Lock()
			ch := c.pending[m.resp.cseq]
			delete(c.pending, m.resp.cseq)
			c.pmu.Unlock()
			if ch == nil {
				c.log.Debug("rtsp: response nobody waits for", "cseq", m.resp.cseq)
				continue
			}
			ch <- m.resp // buffered, and each CSeq is handed over once
		}
	}
}

// close closes the socket.
func (c *conn) close() { _ = c.nc.Close() }
