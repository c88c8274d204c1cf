package b2bua

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"civic/voip/callsdp"
)

func TestCallAnsweredRelayedAndHungUp(t *testing.T) {
	pbx := newPBX(t)
	a, b := newPhone(t, "1001", "answer"), newPhone(t, "1002", "answer")
	pbx.dir.set("1002", Route{Targets: []Target{b.target()}})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()

	sess, err := a.call(ctx, pbx, "1002")
	if err != nil {
		t.Fatal(err)
	}
	toRelayA := mediaOf(t, sess.InviteResponse.Body())
	inv := <-b.invites
	toRelayB := mediaOf(t, inv.Body())
	if toRelayA == toRelayB || toRelayA.Port() < 32000 || toRelayB.Port() < 32000 {
		t.Fatalf("phones were given %v and %v; want two relay ports of the range", toRelayA, toRelayB)
	}
	if calls := pbx.e.Calls(); len(calls) != 1 || calls[0].State != StateAnswered || calls[0].Target != "1002" || calls[0].Codec != "PCMU" {
		t.Fatalf("live calls %+v", calls)
	}
	exchange(t, a, toRelayA, b, 0xa1)
	exchange(t, b, toRelayB, a, 0xb2)

	if err := sess.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	wait(t, b.byes, "the callee's BYE")
	rec := pbx.rec.nextRecord(t)
	if rec.Result != ResultAnswered || rec.Caller != "1001" || rec.Callee != "1002" || rec.FinalTarget != "1002" ||
		rec.Codec != "PCMU" || rec.Answered.IsZero() || !rec.Ended.After(rec.Answered) || rec.CallerTransport != "udp" || rec.CalleeTransport != "udp" {
		t.Fatalf("record %+v", rec)
	}
	if len(pbx.e.Calls()) != 0 {
		t.Fatal("the call is still live after BYE")
	}
}

func TestCalleeHangsUp(t *testing.T) {
	pbx := newPBX(t)
	a, b := newPhone(t, "1001", "answer"), newPhone(t, "1002", "answer")
	pbx.dir.set("1002", Route{Targets: []Target{b.target()}})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if _, err := a.call(ctx, pbx, "1002"); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	callee := b.answered
	b.mu.Unlock()
	if err := callee.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	wait(t, a.byes, "the caller's BYE")
	if rec := pbx.rec.nextRecord(t); rec.Result != ResultAnswered {
		t.Fatalf("record %+v", rec)
	}
}

func TestCallFailures(t *testing.T) {
	pbx := newPBX(t)
	a := newPhone(t, "1001", "answer")
	busy := newPhone(t, "1003", "busy")
	pbx.dir.set("1002", Route{}) // not registered
	pbx.dir.set("1003", Route{Targets: []Target{busy.target()}})
	pbx.dir.set("1004", Route{DND: true, Targets: []Target{busy.target()}})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for _, tc := range []struct {
		number string
		code   int
		result string
	}{
		{"1999", 404, ResultUnknown},
		{"1002", 480, ResultUnavailable},
		{"1003", 486, ResultBusy},
		{"1004", 486, ResultBusy},
	} {
		_, err := a.call(ctx, pbx, tc.number)
		wantStatus(t, err, tc.code)
		if rec := pbx.rec.nextRecord(t); rec.Result != tc.result || rec.Callee != tc.number {
			t.Errorf("call to %s: record %+v, want result %s", tc.number, rec, tc.result)
		}
	}
}

func TestCodecAndSDPRefusals(t *testing.T) {
	pbx := newPBX(t)
	a := newPhone(t, "1001", "answer")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	send := func(body string) error {
		req := sip.NewRequest(sip.INVITE, sip.Uri{User: "1002", Host: "127.0.0.1", Port: int(pbx.node.addr.Port())})
		req.SetBody([]byte(body))
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		sess, err := a.dialog.WriteInvite(ctx, req)
		if err != nil {
			return err
		}
		return sess.WaitAnswer(ctx, sipgo.AnswerOptions{})
	}
	g729 := strings.ReplaceAll(string(a.sdp(callsdp.SendRecv)), "RTP/AVP 0 8 101", "RTP/AVP 18 101")
	g729 = strings.Replace(g729, "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n", "a=rtpmap:18 G729/8000\r\n", 1)
	wantStatus(t, send(g729), 488)
	wantStatus(t, send("v=0\r\nnot sdp"), 400)
}

// TestCancelBeforeAnswer: the caller gives up while the callee rings; the
// callee's INVITE is cancelled and the record says so.
func TestCancelBeforeAnswer(t *testing.T) {
	pbx := newPBX(t)
	a, b := newPhone(t, "1001", "answer"), newPhone(t, "1002", "ignore")
	pbx.dir.set("1002", Route{Targets: []Target{b.target()}})
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 1)
	go func() {
		_, err := a.call(ctx, pbx, "1002")
		errs <- err
	}()
	<-b.invites
	cancel()
	wait(t, b.cancels, "the callee's CANCEL")
	if err := <-errs; err == nil {
		t.Fatal("the cancelled call was answered")
	}
	if rec := pbx.rec.nextRecord(t); rec.Result != ResultCancelled {
		t.Fatalf("record %+v, want cancelled", rec)
	}
}

// TestNoAnswerForwarding: 1002 does not answer within its ring time, so
// the call goes to 1003, which answers; 1002's INVITE is cancelled.
func TestNoAnswerForwarding(t *testing.T) {
	pbx := newPBX(t)
	a := newPhone(t, "1001", "answer")
	b, c := newPhone(t, "1002", "ignore"), newPhone(t, "1003", "answer")
	pbx.dir.set("1002", Route{Targets: []Target{b.target()}, RingTimeout: 500 * time.Millisecond, ForwardNoAnswer: "1003"})
	pbx.dir.set("1003", Route{Targets: []Target{c.target()}})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sess, err := a.call(ctx, pbx, "1002")
	if err != nil {
		t.Fatal(err)
	}
	wait(t, b.cancels, "1002's CANCEL")
	exchange(t, a, mediaOf(t, sess.InviteResponse.Body()), c, 0x33)
	_ = sess.Bye(ctx)
	if rec := pbx.rec.nextRecord(t); rec.FinalTarget != "1003" || rec.Callee != "1002" || rec.Result != ResultAnswered {
		t.Fatalf("record %+v, want 1002 forwarded to 1003", rec)
	}
}

// TestRingGroupFirstAnswerWins: a ring group rings two phones at once;
// the one that answers gets the call and the other is cancelled.
func TestRingGroupFirstAnswerWins(t *testing.T) {
	pbx := newPBX(t)
	a := newPhone(t, "1001", "answer")
	b, c := newPhone(t, "1002", "ignore"), newPhone(t, "1003", "answer")
	pbx.dir.set("600", Route{Targets: []Target{b.target(), c.target()}})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sess, err := a.call(ctx, pbx, "600")
	if err != nil {
		t.Fatal(err)
	}
	wait(t, b.cancels, "the losing phone's CANCEL")
	_ = sess.Bye(ctx)
	if rec := pbx.rec.nextRecord(t); rec.FinalTarget != "1003" || rec.Callee != "600" {
		t.Fatalf("record %+v, want the group answered by 1003", rec)
	}
}

// TestHoldAndResume: the caller holds (a=sendonly); the callee is told
// with a re-INVITE, the call shows held; resuming brings it back.
func TestHoldAndResume(t *testing.T) {
	pbx := newPBX(t)
	a, b := newPhone(t, "1001", "answer"), newPhone(t, "1002", "answer")
	pbx.dir.set("1002", Route{Targets: []Target{b.target()}})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sess, err := a.call(ctx, pbx, "1002")
	if err != nil {
		t.Fatal(err)
	}
	<-b.invites // the first INVITE
	reinvite := func(dir string) string {
		t.Helper()
		req := sip.NewRequest(sip.INVITE, sess.InviteResponse.Contact().Address)
		req.SetBody(a.sdp(dir))
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res, err := sess.Do(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 200 {
			t.Fatalf("re-INVITE %s: %d", dir, res.StatusCode)
		}
		_ = sess.WriteRequest(sip.NewRequest(sip.ACK, sess.InviteResponse.Contact().Address))
		m, err := callsdp.Parse(res.Body())
		if err != nil {
			t.Fatal(err)
		}
		return m.Direction
	}
	if got := reinvite(callsdp.SendOnly); got != callsdp.RecvOnly {
		t.Fatalf("hold answered %s, want recvonly", got)
	}
	select {
	case inv := <-b.invites:
		if m, err := callsdp.Parse(inv.Body()); err != nil || m.Direction != callsdp.SendOnly {
			t.Fatalf("the callee's re-INVITE: %+v, %v; want sendonly", m, err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the callee was not told of the hold")
	}
	if calls := pbx.e.Calls(); len(calls) != 1 || calls[0].State != StateHeld {
		t.Fatalf("calls %+v, want held", calls)
	}
	if got := reinvite(callsdp.SendRecv); got != callsdp.SendRecv {
		t.Fatalf("resume answered %s", got)
	}
	if calls := pbx.e.Calls(); len(calls) != 1 || calls[0].State != StateAnswered {
		t.Fatalf("calls %+v, want answered again", calls)
	}
	_ = sess.Bye(ctx)
	pbx.rec.nextRecord(t)
}

// TestReinviteOutsideACall gets 481.
func TestReinviteOutsideACall(t *testing.T) {
	pbx := newPBX(t)
	a := newPhone(t, "1001", "answer")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := sip.NewRequest(sip.INVITE, sip.Uri{User: "1002", Host: "127.0.0.1", Port: int(pbx.node.addr.Port())})
	req.SetBody(a.sdp(callsdp.SendOnly))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	from := &sip.FromHeader{Address: sip.Uri{User: "1001", Host: "127.0.0.1"}, Params: sip.NewParams()}
	from.Params.Add("tag", "a")
	to := &sip.ToHeader{Address: sip.Uri{User: "1002", Host: "127.0.0.1"}, Params: sip.NewParams()}
	to.Params.Add("tag", "nosuchdialog")
	req.AppendHeader(from)
	req.AppendHeader(to)
	res, err := a.node.client.Do(ctx, req)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	if res == nil || res.StatusCode != 481 {
		t.Fatalf("re-INVITE on an unknown dialog: %v, want 481", res)
	}
}
