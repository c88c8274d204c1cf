package voip

import (
	"fmt"
	"testing"
	"time"

	"civic/voip/b2bua"
)

// sippInfoCall is a sipp caller (extension user) that calls callee,
// answers the digest challenge, and once answered presses keys with SIP
// INFO, one application/dtmf-relay body and one application/dtmf body,
// then hangs up.
func sippInfoCall(user, password, callee, relayDigit, plainDigit string) string {
	invite := func(cseq int, auth string) string {
		return fmt.Sprintf(`
      INVITE sip:%[1]s@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: <sip:%[2]s@[remote_ip]>;tag=[pid]SIPpTag09[call_number]
      To: <sip:%[1]s@[remote_ip]>
      Call-ID: [call_id]
      CSeq: %[3]d INVITE
      Contact: <sip:%[2]s@[local_ip]:[local_port]>
      Max-Forwards: 70%[4]s
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=- 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
`, callee, user, cseq, auth)
	}
	inDialog := func(method string, cseq int, extra string) string {
		return fmt.Sprintf(`
      %[1]s sip:%[2]s@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: <sip:%[3]s@[remote_ip]>;tag=[pid]SIPpTag09[call_number]
      [last_To:]
      Call-ID: [call_id]
      CSeq: %[4]d %[1]s
      Contact: <sip:%[3]s@[local_ip]:[local_port]>
      Max-Forwards: 70
%[5]s`, method, callee, user, cseq, extra)
	}
	return fmt.Sprintf(`<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="info dtmf">
  <send retrans="500"><![CDATA[%[1]s]]></send>
  <recv response="100" optional="true"/>
  <recv response="401" auth="true"/>
  <send><![CDATA[
      ACK sip:%[7]s@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      [last_From:]
      [last_To:]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
]]></send>
  <send retrans="500"><![CDATA[%[2]s]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true"/>
  <send><![CDATA[%[3]s]]></send>
  <send retrans="500"><![CDATA[%[4]s]]></send>
  <recv response="200"/>
  <send retrans="500"><![CDATA[%[5]s]]></send>
  <recv response="200"/>
  <send retrans="500"><![CDATA[%[6]s]]></send>
  <recv response="200"/>
</scenario>
`, invite(1, ""), invite(2, fmt.Sprintf("\n      [authentication username=%s password=%s]", user, password)),
		inDialog("ACK", 2, "      Content-Length: 0\n"),
		inDialog("INFO", 3, fmt.Sprintf("      Content-Type: application/dtmf-relay\n      Content-Length: [len]\n\n      Signal=%s\n      Duration=160\n", relayDigit)),
		inDialog("INFO", 4, fmt.Sprintf("      Content-Type: application/dtmf\n      Content-Length: [len]\n\n      %s\n", plainDigit)),
		inDialog("BYE", 5, "      Content-Length: 0\n"), callee)
}

// TestSippInfoDTMF: keys pressed as SIP INFO, in both body formats, reach
// the bus as voip.dtmf events with the call and the digit. (baresip 1.0
// sends keys only as RFC 4733 events; TestBaresipEdgeCases covers those.)
func TestSippInfoDTMF(t *testing.T) {
	env := newTestService(t, Config{DigestAlgorithms: []string{"MD5"}}) // baresip 1.0 and sipp 3.6 know only MD5
	env.addExtension(t, "1004", "secret1004")
	env.addExtension(t, "1002", "secret1002")
	startPhone(t, env.s.Addr(), "1002", "secret1002", phoneOpts{AutoAnswer: true})
	waitFor(t, 15*time.Second, "1002 online", func() bool { return env.phone("1002").Online })

	log, err := runSipp(t, env.s.Addr(), sippInfoCall("1004", "secret1004", "1002", "7", "#"), "-m", "1")
	if err != nil {
		t.Fatalf("sipp: %v\n%s", err, log)
	}
	if got := env.bus.digits("1004"); got != "7#" {
		t.Errorf("keys on the bus %q, want \"7#\"", got)
	}
	rec := env.nthRecord(t, 1)
	if rec.Caller != "1004" || rec.FinalTarget != "1002" || rec.Result != b2bua.ResultAnswered {
		t.Errorf("record %+v", rec)
	}
	var callID string
	env.bus.mu.Lock()
	for _, k := range env.bus.keys {
		if callID == "" {
			callID = k.CallID
		} else if k.CallID != callID {
			t.Errorf("keys from two calls: %q and %q", callID, k.CallID)
		}
	}
	env.bus.mu.Unlock()
	if callID != rec.CallID {
		t.Errorf("the keys' call %q is not the recorded call %q", callID, rec.CallID)
	}
}

// sippBLF is a sipp watcher: extension user subscribes to entity's dialog
// state and takes NOTIFYs in order, each checked against its state: idle
// (no dialog), early, confirmed, idle again.
func sippBLF(user, password, entity string) string {
	subscribe := func(cseq int, auth string) string {
		return fmt.Sprintf(`
      SUBSCRIBE sip:%[1]s@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      From: <sip:%[2]s@[remote_ip]>;tag=[pid]SIPpTag07[call_number]
      To: <sip:%[1]s@[remote_ip]>
      Call-ID: [call_id]
      CSeq: %[3]d SUBSCRIBE
      Contact: <sip:%[2]s@[local_ip]:[local_port]>
      Event: dialog
      Accept: application/dialog-info+xml
      Expires: 600
      Max-Forwards: 70%[4]s
      Content-Length: 0
`, entity, user, cseq, auth)
	}
	notify := func(state, regexp string) string {
		check := fmt.Sprintf(`<action><ereg regexp="%s" search_in="body" check_it="true" assign_to="m%s"/></action>`, regexp, state)
		if regexp == "" { // idle: no dialog element at all
			check = fmt.Sprintf(`<action><ereg regexp="&lt;dialog " search_in="body" check_it_inverse="true" assign_to="m%s"/></action>`, state)
		}
		return fmt.Sprintf(`
  <recv request="NOTIFY">%s</recv>
  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
]]></send>`, check)
	}
	return fmt.Sprintf(`<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="blf">
  <send retrans="500"><![CDATA[%s]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[%s]]></send>
  <recv response="200"/>
  %s
  %s
  %s
  %s
  <Reference variables="midle1,mearly,mconfirmed,midle2"/>
</scenario>
`, subscribe(1, ""), subscribe(2, fmt.Sprintf("\n      [authentication username=%s password=%s]", user, password)),
		notify("idle1", ""), notify("early", "state&gt;early&lt;"), notify("confirmed", "state&gt;confirmed&lt;"), notify("idle2", ""))
}

// TestSippBLF: a sipp watcher's BLF key for 1002 goes idle, ringing
// (early), busy (confirmed) and idle as 1001 calls 1002, which answers,
// and hangs up.
func TestSippBLF(t *testing.T) {
	env := newTestService(t, Config{DigestAlgorithms: []string{"MD5"}}) // baresip 1.0 and sipp 3.6 know only MD5
	for _, n := range []string{"1001", "1002", "1005"} {
		env.addExtension(t, n, "secret"+n)
	}
	p1 := startPhone(t, env.s.Addr(), "1001", "secret1001", phoneOpts{})
	p2 := startPhone(t, env.s.Addr(), "1002", "secret1002", phoneOpts{})
	waitFor(t, 15*time.Second, "phones online", func() bool { return env.phone("1001").Online && env.phone("1002").Online })

	type result struct {
		log string
		err error
	}
	done := make(chan result, 1)
	go func() {
		log, err := runSipp(t, env.s.Addr(), sippBLF("1005", "secret1005", "1002"), "-m", "1")
		done <- result{log, err}
	}()
	waitFor(t, 10*time.Second, "the subscription", func() bool { return env.s.calls.blf.Count() == 1 })

	if err := p1.Command("dial", "sip:1002@"+env.s.Addr()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "1002 ringing", func() bool { return p2.Saw("CALL_INCOMING") })
	if err := p2.Command("accept", ""); err != nil {
		t.Fatal(err)
	}
	env.liveCall(t, "1001", "the call answered", func(c Call) bool { return c.State == b2bua.StateAnswered })
	if err := p1.Command("hangup", ""); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil {
			t.Fatalf("sipp watcher: %v\n%s", r.err, r.log)
		}
	case <-time.After(30 * time.Second):
		r := <-done // sipp gives up by itself (-timeout), with its log
		t.Fatalf("the watcher did not see idle, early, confirmed and idle: %v\n%s", r.err, r.log)
	}
}
