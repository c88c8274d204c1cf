package building

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzCheckSVG feeds the floor-plan check arbitrary bytes: it must never
// panic, must give the same answer twice, and what it accepts must parse
// as XML whose root is <svg> and that has no script, foreignObject or
// event handler, as seen by a second, simpler reading.
func FuzzCheckSVG(f *testing.F) {
	f.Add([]byte(goodSVG(f)))
	f.Add([]byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`))
	f.Add([]byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`))
	f.Add([]byte(`<svg xmlns="http://www.w3.org/2000/svg"><style>@im<![CDATA[port "x.css";]]></style></svg>`))
	f.Add([]byte(`<svg xmlns="http://www.w3.org/2000/svg"><a href="&#106;avascript:x"/></svg>`))
	f.Add([]byte(`<!DOCTYPE svg [<!ENTITY x "y">]><svg/>`))
	f.Add([]byte(`<svg><use href="data:image/png;base64,AAAA"/><rect fill="url(#a)"/></svg>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := checkSVG(data)
		if err2 := checkSVG(data); (err == nil) != (err2 == nil) {
			t.Fatalf("two answers: %v then %v", err, err2)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		d := xml.NewDecoder(bytes.NewReader(data))
		root := ""
		for {
			tok, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("accepted, but does not parse: %v", err)
			}
			el, ok := tok.(xml.StartElement)
			if !ok {
				continue
			}
			if root == "" {
				root = el.Name.Local
			}
			if name := strings.ToLower(el.Name.Local); name == "script" || name == "foreignobject" {
				t.Fatalf("accepted a <%s>", el.Name.Local)
			}
			for _, a := range el.Attr {
				if strings.HasPrefix(strings.ToLower(a.Name.Local), "on") {
					t.Fatalf("accepted an attribute %s", a.Name.Local)
				}
			}
		}
		if root != "svg" {
			t.Fatalf("accepted a document whose root is %q", root)
		}
	})
}

// FuzzSwipe feeds Swipe arbitrary controller messages: it must never
// panic; a refused message records nothing; an accepted one records one
// access event with a known reason; and only a known card is ever
// granted.
func FuzzSwipe(f *testing.F) {
	e := newEnv(f)
	e.seed(f)
	f.Add("c1", "r1", "A1", "", "m-1", int64(0))
	f.Add("c1", "r5", "a1", "1234", "m-2", int64(10))
	f.Add("c1", "r5", "A1", "99999999999", "m-3", int64(-10))
	f.Add("c9", "r1", "A1", "", "m-4", int64(0))
	f.Add("c1", "r9", "\x00", "", "", int64(400))
	f.Add("c1", "r2", strings.Repeat("9", 40), "", "m-5", int64(0))
	known := []string{"A1", "B1", "C1", "D1", "R1", "N1"}
	reasons := []string{ReasonGranted, ReasonUnknownCard, ReasonDisabled, ReasonNotYetValid, ReasonExpired, ReasonLockdown,
		ReasonDoorLockedDown, ReasonNoAccess, ReasonOutsideSchedule, ReasonBadPIN, ReasonAntiPassback}
	refusals := []string{ReasonUnknownController, ReasonInvalid, ReasonStale, ReasonReplayed, ReasonUnknownReader}
	f.Fuzz(func(t *testing.T, controller, reader, card, pin, msgID string, ageSeconds int64) {
		ageSeconds %= 1 << 20
		before := len(e.bus.accessEvents())
		d, err := e.s.Swipe(context.Background(), Swipe{Controller: controller, Reader: reader, Card: card, PIN: pin,
			MsgID: msgID, At: e.clk.Now().Add(-time.Duration(ageSeconds) * time.Second)})
		after := e.bus.accessEvents()[before:]
		if err != nil {
			if d.Granted || !slices.Contains(refusals, d.Reason) || len(after) != 0 {
				t.Fatalf("refused (%v) with decision %+v and %d events", err, d, len(after))
			}
			return
		}
		if len(after) != 1 || !slices.Contains(reasons, d.Reason) || after[0].Reason != d.Reason {
			t.Fatalf("decision %+v, events %+v", d, after)
		}
		if norm, _ := normCard(card); d.Granted && !slices.Contains(known, norm) {
			t.Fatalf("granted an unknown card %q", card)
		}
	})
}
