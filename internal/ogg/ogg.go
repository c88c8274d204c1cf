// Package ogg splits an Ogg stream (RFC 3533) into its packets: enough to
// read the Opus that ffmpeg's libopus writes, which tests and benches
// publish as a browser's voice. It does not check CRCs or page order.
package ogg

import "errors"

// Packets returns the packets of the Ogg stream b, in order (for Opus,
// the OpusHead and OpusTags headers first).
func Packets(b []byte) ([][]byte, error) {
	var pkts [][]byte
	var cur []byte
	for len(b) > 0 {
		if len(b) < 27 || string(b[:4]) != "OggS" {
			return nil, errors.New("ogg: not a page")
		}
		n := int(b[26])
		if len(b) < 27+n {
			return nil, errors.New("ogg: short segment table")
		}
		lacing := b[27 : 27+n]
		body := b[27+n:]
		for _, l := range lacing {
			if int(l) > len(body) {
				return nil, errors.New("ogg: short segment")
			}
			cur = append(cur, body[:l]...)
			body = body[l:]
			if l < 255 { // a packet ends here
				pkts = append(pkts, cur)
				cur = nil
			}
		}
		b = body
	}
	return pkts, nil
}
