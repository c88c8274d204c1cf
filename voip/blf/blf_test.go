package blf

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"civic/voip/dialoginfo"
)

// node is a sipgo user agent on 127.0.0.1 UDP.
type node struct {
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	client *sipgo.Client
	addr   netip.AddrPort
	conn   net.PacketConn
}

func newNode(t *testing.T) *node {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ua, _ := sipgo.NewUA(sipgo.WithUserAgentHostname("127.0.0.1"))
	srv, _ := sipgo.NewServer(ua, sipgo.WithServerLogger(slog.New(slog.DiscardHandler)))
	addr := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	client, _ := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(int(addr.Port())),
		sipgo.WithClientLogger(slog.New(slog.DiscardHandler)))
	t.Cleanup(func() { client.Close(); srv.Close(); ua.Close(); conn.Close() })
	return &node{ua: ua, srv: srv, client: client, addr: addr, conn: conn}
}

func (n *node) serve() { go func() { _ = n.srv.ServeUDP(n.conn) }() }

// notify is one NOTIFY the watcher got.
type notify struct {
	state string // Subscription-State
	info  dialoginfo.Info
}

func TestBLF(t *testing.T) {
	pbx, phone := newNode(t), newNode(t)
	n := New(Config{Client: pbx.client, Contact: sip.ContactHeader{Address: sip.Uri{Host: "127.0.0.1", Port: int(pbx.addr.Port())}}, Domain: "127.0.0.1"},
		slog.New(slog.DiscardHandler))
	t.Cleanup(n.Shutdown)
	exists := func(ext string) bool { return ext == "1002" }
	pbx.srv.OnSubscribe(func(req *sip.Request, tx sip.ServerTransaction) {
		n.HandleSubscribe(req, tx, req.From().Address.User, exists)
	})
	pbx.serve()
	got := make(chan notify, 16)
	phone.srv.OnNotify(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		info, err := dialoginfo.Parse(req.Body())
		if err != nil {
			t.Errorf("NOTIFY body: %v", err)
		}
		got <- notify{state: req.GetHeader("Subscription-State").Value(), info: info}
	})
	phone.serve()
	next := func(want string) notify {
		t.Helper()
		select {
		case nt := <-got:
			if nt.info.Summary() != want {
				t.Fatalf("NOTIFY says %s (%+v), want %s", nt.info.Summary(), nt.info, want)
			}
			return nt
		case <-time.After(5 * time.Second):
			t.Fatalf("no NOTIFY (want %s)", want)
			return notify{}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	subscribe := func(ext, event, expires, toTag, callID string, cseq uint32) *sip.Response {
		t.Helper()
		req := sip.NewRequest(sip.SUBSCRIBE, sip.Uri{User: ext, Host: "127.0.0.1", Port: int(pbx.addr.Port())})
		from := &sip.FromHeader{Address: sip.Uri{User: "1001", Host: "127.0.0.1"}, Params: sip.NewParams()}
		from.Params.Add("tag", "watcher")
		to := &sip.ToHeader{Address: sip.Uri{User: ext, Host: "127.0.0.1"}, Params: sip.NewParams()}
		if toTag != "" {
			to.Params.Add("tag", toTag)
		}
		id := sip.CallIDHeader(callID)
		req.AppendHeader(from)
		req.AppendHeader(to)
		req.AppendHeader(&id)
		req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: sip.SUBSCRIBE})
		req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{User: "1001", Host: "127.0.0.1", Port: int(phone.addr.Port())}})
		req.AppendHeader(sip.NewHeader("Event", event))
		req.AppendHeader(sip.NewHeader("Accept", dialoginfo.ContentType))
		req.AppendHeader(sip.NewHeader("Expires", expires))
		res, err := phone.client.Do(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	if res := subscribe("1002", "presence", "600", "", "c0", 1); res.StatusCode != 489 {
		t.Fatalf("presence event: %d, want 489", res.StatusCode)
	}
	if res := subscribe("1999", "dialog", "600", "", "c1", 1); res.StatusCode != 404 {
		t.Fatalf("unknown extension: %d, want 404", res.StatusCode)
	}
	if res := subscribe("1002", "dialog", "10", "", "c2", 1); res.StatusCode != 423 || res.GetHeader("Min-Expires") == nil {
		t.Fatalf("10 s: %d, want 423 with Min-Expires", res.StatusCode)
	}
	res := subscribe("1002", "dialog", "7200", "", "c3", 1)
	if res.StatusCode != 200 || res.GetHeader("Expires").Value() != "3600" {
		t.Fatalf("subscribe: %d, Expires %v; want 200 with the lifetime cut to 3600", res.StatusCode, res.GetHeader("Expires"))
	}
	tag, _ := res.To().Params.Get("tag")
	if nt := next("idle"); !strings.HasPrefix(nt.state, "active;expires=") || nt.info.Entity != "sip:1002@127.0.0.1" {
		t.Fatalf("first NOTIFY %+v", nt)
	}

	n.Update("1002", []dialoginfo.Dialog{{ID: "x", Direction: dialoginfo.Recipient, State: dialoginfo.Early}})
	next("ringing")
	n.Update("1002", []dialoginfo.Dialog{{ID: "x", Direction: dialoginfo.Recipient, State: dialoginfo.Confirmed}})
	v := next("busy").info.Version
	n.Update("1002", nil)
	if nt := next("idle"); nt.info.Version <= v {
		t.Fatalf("version %d after %d: must grow", nt.info.Version, v)
	}
	n.Update("1003", []dialoginfo.Dialog{{ID: "y", State: dialoginfo.Confirmed}}) // nobody watches it

	if res := subscribe("1002", "dialog", "600", "wrongtag", "c3", 2); res.StatusCode != 481 {
		t.Fatalf("refresh of an unknown subscription: %d, want 481", res.StatusCode)
	}
	if res := subscribe("1002", "dialog", "600", tag, "c3", 3); res.StatusCode != 200 {
		t.Fatalf("refresh: %d", res.StatusCode)
	}
	next("idle")
	if res := subscribe("1002", "dialog", "0", tag, "c3", 4); res.StatusCode != 200 {
		t.Fatalf("unsubscribe: %d", res.StatusCode)
	}
	if nt := next("idle"); !strings.HasPrefix(nt.state, "terminated") {
		t.Fatalf("last NOTIFY state %q, want terminated", nt.state)
	}
	if n.Count() != 0 {
		t.Fatalf("%d subscriptions left", n.Count())
	}
}

// TestBLFChangeDuringSubscribe: a call that starts ringing while the
// SUBSCRIBE is being answered reaches the watcher once, after the 200,
// and the next change follows it (no early NOTIFY before the 200, no
// repeated state).
func TestBLFChangeDuringSubscribe(t *testing.T) {
	pbx, phone := newNode(t), newNode(t)
	ringing := []dialoginfo.Dialog{{ID: "x", Direction: dialoginfo.Recipient, State: dialoginfo.Early}}
	var n *Notifier
	n = New(Config{Client: pbx.client, Contact: sip.ContactHeader{Address: sip.Uri{Host: "127.0.0.1", Port: int(pbx.addr.Port())}}, Domain: "127.0.0.1",
		Current: func(ext string) []dialoginfo.Dialog {
			n.Update(ext, ringing) // the call engine reports the ring meanwhile
			return ringing
		}}, slog.New(slog.DiscardHandler))
	t.Cleanup(n.Shutdown)
	pbx.srv.OnSubscribe(func(req *sip.Request, tx sip.ServerTransaction) {
		n.HandleSubscribe(req, tx, req.From().Address.User, func(string) bool { return true })
	})
	pbx.serve()
	got := make(chan string, 16)
	phone.srv.OnNotify(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		info, err := dialoginfo.Parse(req.Body())
		if err != nil {
			t.Errorf("NOTIFY body: %v", err)
		}
		got <- info.Summary()
	})
	phone.serve()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := sip.NewRequest(sip.SUBSCRIBE, sip.Uri{User: "1002", Host: "127.0.0.1", Port: int(pbx.addr.Port())})
	from := &sip.FromHeader{Address: sip.Uri{User: "1001", Host: "127.0.0.1"}, Params: sip.NewParams()}
	from.Params.Add("tag", "watcher")
	id := sip.CallIDHeader("race")
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{User: "1002", Host: "127.0.0.1"}, Params: sip.NewParams()})
	req.AppendHeader(&id)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.SUBSCRIBE})
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{User: "1001", Host: "127.0.0.1", Port: int(phone.addr.Port())}})
	req.AppendHeader(sip.NewHeader("Event", "dialog"))
	req.AppendHeader(sip.NewHeader("Expires", "600"))
	res, err := phone.client.Do(ctx, req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("subscribe: %v %v", res, err)
	}

	n.Update("1002", []dialoginfo.Dialog{{ID: "x", Direction: dialoginfo.Recipient, State: dialoginfo.Confirmed}})
	for _, want := range []string{"ringing", "busy"} {
		select {
		case s := <-got:
			if s != want {
				t.Fatalf("NOTIFY says %s, want %s", s, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no NOTIFY (want %s)", want)
		}
	}
}
