package onvif

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Namespaces of the requests we build. Responses are matched on local
// names only (see decodeEnvelope), so these matter on the way out.
const (
	nsSOAP    = "http://www.w3.org/2003/05/soap-envelope"
	nsWSSE    = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
	nsWSU     = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	nsWSA     = "http://www.w3.org/2005/08/addressing"
	nsDevice  = "http://www.onvif.org/ver10/device/wsdl"
	nsMedia   = "http://www.onvif.org/ver10/media/wsdl"
	nsMedia2  = "http://www.onvif.org/ver20/media/wsdl"
	nsEvents  = "http://www.onvif.org/ver10/events/wsdl"
	nsPTZ     = "http://www.onvif.org/ver20/ptz/wsdl"
	nsImaging = "http://www.onvif.org/ver20/imaging/wsdl"
	nsSchema  = "http://www.onvif.org/ver10/schema"
	nsWSNT    = "http://docs.oasis-open.org/wsn/b-2"

	passwordDigestType = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
	base64Encoding     = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)

// maxResponse bounds a SOAP response we read. A GetProfiles with every
// configuration of a four-channel encoder stays well under it; anything
// larger is a broken or hostile camera.
const maxResponse = 1 << 20

// Fault is a SOAP fault a camera answered with. Code and Subcode carry
// local names without prefixes ("Sender", "InvalidArgVal/NoProfile");
// Reason is the camera's own text, which usually says what was wrong.
type Fault struct {
	Code    string // Sender, Receiver, ... (SOAP 1.1: the faultcode)
	Subcode string // ONVIF's ter: subcodes, outermost first, joined by "/"
	Reason  string // the reason text, English when the camera offers it
	Detail  string // the text of the Detail element, when there is one
}

// Error shows the codes and the camera's reason.
func (f *Fault) Error() string {
	code := f.Code
	if f.Subcode != "" {
		code += "/" + f.Subcode
	}
	msg := "SOAP fault " + code
	if f.Reason != "" {
		msg += ": " + f.Reason
	}
	if f.Detail != "" && f.Detail != f.Reason {
		msg += " (" + f.Detail + ")"
	}
	return msg
}

// authFault reports whether a fault says our credentials were refused:
// ONVIF's ter:NotAuthorized, or the WS-Security faults some cameras use.
func (f *Fault) authFault() bool {
	for _, part := range strings.Split(f.Code+"/"+f.Subcode, "/") {
		switch part {
		case "NotAuthorized", "FailedAuthentication", "InvalidSecurity", "InvalidSecurityToken":
			return true
		}
	}
	return false
}

// xmlFault is a SOAP 1.2 fault, with the SOAP 1.1 fields beside it
// because some older cameras answer 1.2 requests with 1.1 faults.
type xmlFault struct {
	Code struct {
		Value   string      `xml:"Value"`
		Subcode *xmlSubcode `xml:"Subcode"`
	} `xml:"Code"`
	Reason struct {
		Text []struct {
			Lang  string `xml:"lang,attr"`
			Value string `xml:",chardata"`
		} `xml:"Text"`
	} `xml:"Reason"`
	Detail      text   `xml:"Detail"`
	FaultCode   string `xml:"faultcode"`
	FaultString string `xml:"faultstring"`
	FaultDetail text   `xml:"detail"`
}

type xmlSubcode struct {
	Value   string      `xml:"Value"`
	Subcode *xmlSubcode `xml:"Subcode"`
}

// maxSubcodes bounds how deep we follow nested subcodes; ONVIF uses two.
const maxSubcodes = 8

func (x *xmlFault) fault() *Fault {
	f := &Fault{Code: localName(x.Code.Value), Detail: clean(string(x.Detail), 300)}
	var subs []string
	for s, n := x.Code.Subcode, 0; s != nil && n < maxSubcodes; s, n = s.Subcode, n+1 {
		if v := localName(s.Value); v != "" {
			subs = append(subs, v)
		}
	}
	f.Subcode = strings.Join(subs, "/")
	for i, t := range x.Reason.Text {
		if i == 0 || strings.HasPrefix(strings.ToLower(t.Lang), "en") {
			f.Reason = clean(t.Value, 300)
			if i > 0 {
				break
			}
		}
	}
	if f.Code == "" && x.FaultCode != "" {
		f.Code = localName(x.FaultCode)
		f.Reason = clean(x.FaultString, 300)
		f.Detail = clean(string(x.FaultDetail), 300)
	}
	if f.Code == "" {
		f.Code = "Fault"
	}
	return f
}

// errNotSOAP marks a response that is not a SOAP envelope at all, such as
// an HTML error page.
var errNotSOAP = errors.New("not a SOAP envelope")

// decodeEnvelope decodes a SOAP response. It walks to the first element of
// the Body: a Fault becomes a *Fault error; an element whose local name is
// want is decoded into out (nil out: only checked, and an empty Body will
// do). Elements are matched by local name only, because cameras pick
// their own prefixes and some answer in a namespace other than the one
// asked (Media ver10 vs ver20).
func decodeEnvelope(data []byte, want string, out any) error {
	d := newDecoder(data)
	depth := 0 // 0: outside, 1: in Envelope, 2: in Body
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if depth == 0 {
				return errNotSOAP
			}
			return errors.New("SOAP envelope ends early")
		}
		if err != nil {
			if depth == 0 {
				return fmt.Errorf("%w: %v", errNotSOAP, err)
			}
			return fmt.Errorf("bad XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch {
			case depth == 0 && t.Name.Local == "Envelope":
				depth = 1
			case depth == 0:
				return fmt.Errorf("%w: root element %q", errNotSOAP, clean(t.Name.Local, 40))
			case depth == 1 && t.Name.Local == "Body":
				depth = 2
			case depth == 1:
				if err := d.Skip(); err != nil { // the Header and anything else
					return fmt.Errorf("bad XML: %w", err)
				}
			case t.Name.Local == "Fault":
				var x xmlFault
				if err := d.DecodeElement(&x, &t); err != nil {
					return fmt.Errorf("decode SOAP fault: %w", err)
				}
				return x.fault()
			case t.Name.Local != want:
				return fmt.Errorf("unexpected %q in the SOAP body, want %s", clean(t.Name.Local, 60), want)
			case out == nil:
				if err := d.Skip(); err != nil {
					return fmt.Errorf("bad XML: %w", err)
				}
				return nil
			default:
				if err := d.DecodeElement(out, &t); err != nil {
					return fmt.Errorf("decode %s: %w", want, err)
				}
				return nil
			}
		case xml.EndElement:
			if depth == 2 && out == nil {
				return nil // an empty Body is as good an answer as an empty response
			}
			if depth == 2 {
				return fmt.Errorf("empty SOAP body, want %s", want)
			}
			depth--
		}
	}
}

// newDecoder returns a strict XML decoder over data that also reads the
// Latin-1 some older cameras declare.
func newDecoder(data []byte) *xml.Decoder {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.CharsetReader = charsetReader
	return d
}

func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return in, nil
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1":
		b, err := io.ReadAll(io.LimitReader(in, maxResponse))
		if err != nil {
			return nil, err
		}
		var out strings.Builder
		out.Grow(len(b))
		for _, c := range b {
			out.WriteRune(rune(c))
		}
		return strings.NewReader(out.String()), nil
	}
	return nil, fmt.Errorf("unsupported charset %q", clean(label, 40))
}

// text is the character data of an element and all its descendants,
// trimmed and bounded: a Detail or ReferenceParameter whose structure we
// don't care about.
type text string

// UnmarshalXML collects the character data.
func (t *text) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var b strings.Builder
	for depth := 1; depth > 0; {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch v := tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if b.Len() < 4096 {
				b.Write(v)
			}
		}
	}
	*t = text(strings.TrimSpace(b.String()))
	return nil
}

// num is a number that tolerates what cameras write: "25", "25.000000",
// " 1920 ". Anything unparsable is 0 rather than an error, so one odd
// field doesn't lose a whole profile list.
type num float64

// UnmarshalXML parses the number leniently.
func (n *num) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var s text
	if err := s.UnmarshalXML(d, start); err != nil {
		return err
	}
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil || f != f || f > 1e12 || f < -1e12 { // f != f: NaN
		f = 0
	}
	*n = num(f)
	return nil
}

// xmlBool parses an xs:boolean.
func xmlBool(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1":
		return true
	}
	return false
}

// localName strips a namespace prefix: "ter:NotAuthorized" → "NotAuthorized".
func localName(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		s = s[i+1:]
	}
	return clean(s, 80)
}

// clean makes camera-supplied text safe to show: valid UTF-8, no control
// characters, runs of space collapsed, at most max bytes.
func clean(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		if b.Len()+utf8.RuneLen(r) > max {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// esc escapes s for XML character data and attribute values.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // writes to a Builder never fail
	return b.String()
}
