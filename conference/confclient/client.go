// Package confclient is a Go meeting participant that speaks civicd's
// console protocol: it signs in, joins a meeting, publishes tracks on its
// publish connection and answers civicd's offers on its subscribe
// connection, as the browser does. Tests and benchmarks use it to drive a
// real daemon; it holds no civicd state and imports no civicd package.
package confclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/gorilla/websocket"
)

// Error is a failed result from the server.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Event is one event of a subscription or a meeting.
type Event struct {
	Topic string          `json:"topic"`
	Kind  string          `json:"kind"`
	Data  json.RawMessage `json:"data"`
}

// Options configure a client.
type Options struct {
	// TLS is used for https/wss URLs (tests trust the daemon's
	// self-signed certificate with InsecureSkipVerify).
	TLS *tls.Config
}

// Client is one console websocket.
type Client struct {
	ws  *websocket.Conn
	wmu sync.Mutex // serialises writes

	mu      sync.Mutex
	next    int64
	waits   map[int64]chan message
	streams map[int64]chan Event
	done    chan struct{}
	err     error
}

type message struct {
	ID      int64           `json:"id"`
	Type    string          `json:"type"`
	Success bool            `json:"success"`
	Result  json.RawMessage `json:"result"`
	Error   *Error          `json:"error"`
	Event   *Event          `json:"event"`
}

// Login signs in over HTTP and returns the session token.
func Login(ctx context.Context, baseURL, user, password string, o Options) (string, error) {
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(baseURL, "/")+"/api/login", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: o.TLS}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("login: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error Error }
		_ = json.Unmarshal(b, &e)
		return "", fmt.Errorf("login: %d %w", resp.StatusCode, &e.Error)
	}
	var lr struct{ Token string }
	if err := json.Unmarshal(b, &lr); err != nil || lr.Token == "" {
		return "", fmt.Errorf("login: no token in %q", b)
	}
	return lr.Token, nil
}

// Dial opens the console websocket at baseURL (http(s)://host:port) and
// authenticates with token.
func Dial(ctx context.Context, baseURL, token string, o Options) (*Client, error) {
	u := "ws" + strings.TrimPrefix(strings.TrimSuffix(baseURL, "/"), "http") + "/api/ws"
	d := websocket.Dialer{TLSClientConfig: o.TLS}
	ws, _, err := d.DialContext(ctx, u, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", u, err)
	}
	var first message
	if err := ws.ReadJSON(&first); err != nil || first.Type != "auth_required" {
		ws.Close()
		return nil, fmt.Errorf("handshake: got %q, %v", first.Type, err)
	}
	if err := ws.WriteJSON(map[string]string{"type": "auth", "token": token}); err != nil {
		ws.Close()
		return nil, err
	}
	var ok message
	if err := ws.ReadJSON(&ok); err != nil || ok.Type != "auth_ok" {
		ws.Close()
		return nil, fmt.Errorf("auth: got %q, %v", ok.Type, err)
	}
	c := &Client{ws: ws, waits: map[int64]chan message{}, streams: map[int64]chan Event{}, done: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

func (c *Client) readLoop() {
	defer close(c.done)
	for {
		var m message
		if err := c.ws.ReadJSON(&m); err != nil {
			c.mu.Lock()
			c.err = err
			for _, ch := range c.streams {
				close(ch)
			}
			c.streams = map[int64]chan Event{}
			c.mu.Unlock()
			return
		}
		c.mu.Lock()
		if m.Type == "event" && m.Event != nil {
			if ch := c.streams[m.ID]; ch != nil {
				select {
				case ch <- *m.Event:
				default: // a consumer that does not read loses events
				}
			}
		} else if ch := c.waits[m.ID]; ch != nil {
			delete(c.waits, m.ID)
			ch <- m
		}
		c.mu.Unlock()
	}
}

// Call sends a request and decodes its result into result (may be nil).
// When stream is not nil, the request's events go to it.
func (c *Client) call(ctx context.Context, typ string, params map[string]any, result any, stream chan Event) (int64, error) {
	// The id is taken under the write lock: the server wants ids to grow
	// on the wire, and two callers must not write in the other order.
	c.wmu.Lock()
	c.mu.Lock()
	c.next++
	id := c.next
	ch := make(chan message, 1)
	c.waits[id] = ch
	if stream != nil {
		c.streams[id] = stream
	}
	c.mu.Unlock()
	msg := map[string]any{"id": id, "type": typ}
	for k, v := range params {
		msg[k] = v
	}
	err := c.ws.WriteJSON(msg)
	c.wmu.Unlock()
	if err != nil {
		return id, fmt.Errorf("%s: %w", typ, err)
	}
	select {
	case m := <-ch:
		if !m.Success {
			if m.Error == nil {
				m.Error = &Error{Code: "unknown"}
			}
			return id, fmt.Errorf("%s: %w", typ, m.Error)
		}
		if result != nil {
			return id, json.Unmarshal(m.Result, result)
		}
		return id, nil
	case <-c.done:
		return id, fmt.Errorf("%s: connection closed: %v", typ, c.err)
	case <-ctx.Done():
		return id, fmt.Errorf("%s: %w", typ, ctx.Err())
	}
}

// Call sends a request and decodes its result into result (may be nil).
func (c *Client) Call(ctx context.Context, typ string, params map[string]any, result any) error {
	_, err := c.call(ctx, typ, params, result, nil)
	return err
}

// Close closes the websocket.
func (c *Client) Close() error {
	c.wmu.Lock()
	_ = c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	c.wmu.Unlock()
	err := c.ws.Close()
	<-c.done
	if errors.Is(err, websocket.ErrCloseSent) {
		return nil
	}
	return err
}
