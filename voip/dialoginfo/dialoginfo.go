// Package dialoginfo writes and reads the RFC 4235 dialog event package
// body (application/dialog-info+xml) that desk phones' busy lamp field
// (BLF) keys subscribe to: for one extension, its calls and their states,
// so a key shows the extension idle, ringing or busy.
package dialoginfo

import (
	"encoding/xml"
	"fmt"
)

// ContentType is the MIME type of the body.
const ContentType = "application/dialog-info+xml"

// Namespace is the document's XML namespace.
const Namespace = "urn:ietf:params:xml:ns:dialog-info"

// Dialog states (RFC 4235 §3.7.1). A phone shows "early" as ringing and
// "confirmed" as busy; an extension with no dialogs, or only terminated
// ones, is idle.
const (
	Trying     = "trying"
	Proceeding = "proceeding"
	Early      = "early"
	Confirmed  = "confirmed"
	Terminated = "terminated"
)

// Directions of a dialog, from the extension's side.
const (
	Initiator = "initiator" // the extension called
	Recipient = "recipient" // the extension is called
)

// Info is a dialog-info document.
type Info struct {
	XMLName xml.Name `xml:"urn:ietf:params:xml:ns:dialog-info dialog-info"`
	Version uint32   `xml:"version,attr"`
	State   string   `xml:"state,attr"` // "full" or "partial"
	Entity  string   `xml:"entity,attr"`
	Dialogs []Dialog `xml:"dialog"`
}

// Dialog is one call of the extension.
type Dialog struct {
	ID        string  `xml:"id,attr"`
	CallID    string  `xml:"call-id,attr,omitempty"`
	LocalTag  string  `xml:"local-tag,attr,omitempty"`
	RemoteTag string  `xml:"remote-tag,attr,omitempty"`
	Direction string  `xml:"direction,attr,omitempty"`
	State     string  `xml:"state"`
	Remote    *Remote `xml:"remote,omitempty"`
}

// Remote is the other party of a dialog.
type Remote struct {
	Identity string  `xml:"identity"`
	Target   *Target `xml:"target,omitempty"`
}

// Target is where the other party can be reached.
type Target struct {
	URI string `xml:"uri,attr"`
}

// Marshal writes the document, with the XML declaration.
func (i Info) Marshal() ([]byte, error) {
	if i.State == "" {
		i.State = "full"
	}
	b, err := xml.Marshal(i)
	if err != nil {
		return nil, fmt.Errorf("dialog-info: %w", err)
	}
	return append([]byte(xml.Header), b...), nil
}

// Parse reads a document.
func Parse(body []byte) (Info, error) {
	var i Info
	if err := xml.Unmarshal(body, &i); err != nil {
		return Info{}, fmt.Errorf("dialog-info: %w", err)
	}
	return i, nil
}

// Summary is the state a BLF key shows: idle, ringing (an early or
// proceeding dialog the extension receives) or busy (a confirmed one, or
// one it is placing).
func (i Info) Summary() string {
	state := "idle"
	for _, d := range i.Dialogs {
		switch {
		case d.State == Confirmed:
			return "busy"
		case d.State == Terminated:
		case d.Direction == Recipient:
			state = "ringing"
		default:
			if state == "idle" {
				state = "busy" // placing a call
			}
		}
	}
	return state
}
