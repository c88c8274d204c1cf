package rtsp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
)

// Limits on what a server may send. They bound the memory one camera can
// make us spend, whatever it sends.
const (
	maxHeaderBytes = 64 << 10 // status line plus all header lines
	maxHeaders     = 128      // header fields in one message
	maxBody        = 1 << 20  // Content-Length of a response (the SDP)
	maxStrayBytes  = 8        // CR/LF tolerated between messages
)

// header holds a message's header fields under lower-case names, in
// the order they came.
type header map[string][]string

// get returns the first value of the field name (lower case), or "".
func (h header) get(name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// response is one RTSP response.
type response struct {
	code   int
	reason string
	cseq   int
	header header
	body   []byte
}

// serverRequest is a request the server sent us (some servers send
// OPTIONS or SET_PARAMETER as their own keepalive); we answer it and
// otherwise ignore it.
type serverRequest struct {
	method string
	cseq   string
}

// message is one thing read from the control connection: exactly one of
// an interleaved frame, a response or a server request.
type message struct {
	frame   bool
	channel byte
	payload []byte // valid until the next call to next
	resp    *response
	req     *serverRequest
}

// msgReader reads RTSP messages and '$' interleaved frames (RFC 2326
// 10.12) from one connection. It is not safe for concurrent use.
type msgReader struct {
	br        *bufio.Reader
	maxPacket int
	buf       []byte // frame payloads; reused
}

func newMsgReader(r io.Reader, maxPacket int) *msgReader {
	return &msgReader{br: bufio.NewReaderSize(r, 16<<10), maxPacket: maxPacket}
}

// next reads the next message. An interleaved frame longer than
// maxPacket is ErrPacketTooLarge; anything that is neither a frame nor an
// RTSP message is ErrMalformed.
func (r *msgReader) next() (message, error) {
	for stray := 0; ; stray++ {
		b, err := r.br.Peek(1)
		if err != nil {
			return message{}, err
		}
		switch c := b[0]; {
		case c == '$':
			return r.frame()
		case c == '\r' || c == '\n':
			// Tolerate a few empty lines between messages, as RFC 2326
			// 15.1 asks of robust readers, but not an endless stream.
			if stray >= maxStrayBytes {
				return message{}, malformed("too many empty lines")
			}
			_, _ = r.br.Discard(1)
			continue
		case c >= 'A' && c <= 'Z':
			return r.message()
		default:
			return message{}, malformed("unexpected byte 0x%02x where a message should start", c)
		}
	}
}

func (r *msgReader) frame() (message, error) {
	hdr, err := r.br.Peek(4)
	if err != nil {
		return message{}, noEOF(err)
	}
	ch, n := hdr[1], int(hdr[2])<<8|int(hdr[3])
	if n > r.maxPacket {
		return message{}, errTooLarge(n, r.maxPacket)
	}
	_, _ = r.br.Discard(4)
	if cap(r.buf) < n {
		r.buf = make([]byte, n, max(n, 2048))
	}
	r.buf = r.buf[:n]
	if _, err := io.ReadFull(r.br, r.buf); err != nil {
		return message{}, noEOF(err)
	}
	return message{frame: true, channel: ch, payload: r.buf}, nil
}

// message reads a response or a request from the server.
func (r *msgReader) message() (message, error) {
	budget := maxHeaderBytes
	first, err := readLine(r.br, &budget)
	if err != nil {
		return message{}, err
	}
	if bytes.HasPrefix(first, []byte("RTSP/")) {
		resp, err := parseStatusLine(first)
		if err != nil {
			return message{}, err
		}
		if resp.header, err = readHeader(r.br, &budget); err != nil {
			return message{}, err
		}
		if resp.body, err = readBody(r.br, resp.header); err != nil {
			return message{}, err
		}
		cs := resp.header["cseq"]
		if len(cs) != 1 {
			return message{}, malformed("response has %d CSeq fields", len(cs))
		}
		if resp.cseq, err = strconv.Atoi(cs[0]); err != nil || resp.cseq < 0 {
			return message{}, malformed("CSeq %s", snippet([]byte(cs[0])))
		}
		return message{resp: resp}, nil
	}
	method, err := parseRequestLine(first)
	if err != nil {
		return message{}, err
	}
	h, err := readHeader(r.br, &budget)
	if err != nil {
		return message{}, err
	}
	if _, err := readBody(r.br, h); err != nil {
		return message{}, err
	}
	return message{req: &serverRequest{method: method, cseq: h.get("cseq")}}, nil
}

// parseStatusLine parses "RTSP/1.0 200 OK".
func parseStatusLine(line []byte) (*response, error) {
	rest, ok := bytes.CutPrefix(line, []byte("RTSP/1."))
	if !ok || len(rest) < 5 || rest[0] < '0' || rest[0] > '9' || rest[1] != ' ' {
		return nil, malformed("status line %s", snippet(line))
	}
	code, err := strconv.Atoi(string(rest[2:5]))
	if err != nil || code < 100 || code > 599 || len(rest) > 5 && rest[5] != ' ' {
		return nil, malformed("status line %s", snippet(line))
	}
	reason := ""
	if len(rest) > 6 {
		reason = string(rest[6:])
	}
	if !printable(reason) {
		return nil, malformed("status line %s", snippet(line))
	}
	return &response{code: code, reason: reason}, nil
}

// parseRequestLine parses "OPTIONS * RTSP/1.0" and returns the method.
func parseRequestLine(line []byte) (string, error) {
	f := bytes.Split(line, []byte(" "))
	if len(f) != 3 || !bytes.HasPrefix(f[2], []byte("RTSP/1.")) || len(f[0]) == 0 || len(f[0]) > 32 {
		return "", malformed("start line %s", snippet(line))
	}
	for _, c := range f[0] {
		if (c < 'A' || c > 'Z') && c != '_' {
			return "", malformed("start line %s", snippet(line))
		}
	}
	return string(f[0]), nil
}

// readLine reads one line, without its CRLF or LF, charging its length
// to budget. The returned slice is a fresh copy.
func readLine(br *bufio.Reader, budget *int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		*budget -= len(chunk)
		if *budget < 0 {
			return nil, malformed("header longer than %d bytes", maxHeaderBytes)
		}
		line = append(line, chunk...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return nil, noEOF(err)
		}
	}
	line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
	return line, nil
}

// readHeader reads header lines up to the empty line, joining folded
// continuation lines (RFC 2326 4.2 allows them, as HTTP/1.1 did).
func readHeader(br *bufio.Reader, budget *int) (header, error) {
	h := header{}
	count := 0
	var last string // name of the previous field, for folding
	for {
		line, err := readLine(br, budget)
		if err != nil {
			return nil, err
		}
		if len(line) == 0 {
			return h, nil
		}
		if !printable(string(line)) {
			return nil, malformed("header line %s", snippet(line))
		}
		if line[0] == ' ' || line[0] == '\t' {
			if last == "" {
				return nil, malformed("continuation line with no field before it")
			}
			v := h[last]
			v[len(v)-1] = strings.TrimSpace(v[len(v)-1] + " " + string(bytes.TrimSpace(line)))
			continue
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || !isToken(name) {
			return nil, malformed("header line %s", snippet(line))
		}
		if count++; count > maxHeaders {
			return nil, malformed("more than %d header fields", maxHeaders)
		}
		last = strings.ToLower(string(name))
		h[last] = append(h[last], string(bytes.TrimSpace(value)))
	}
}

// readBody reads Content-Length bytes (none when the field is absent).
func readBody(br *bufio.Reader, h header) ([]byte, error) {
	cl := h["content-length"]
	if len(cl) == 0 {
		return nil, nil
	}
	for _, v := range cl[1:] {
		if v != cl[0] {
			return nil, malformed("conflicting Content-Length fields")
		}
	}
	n, err := strconv.Atoi(cl[0])
	if err != nil || n < 0 {
		return nil, malformed("Content-Length %s", snippet([]byte(cl[0])))
	}
	if n > maxBody {
		return nil, malformed("Content-Length %d is over the %d byte limit", n, maxBody)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(br, body); err != nil {
		return nil, noEOF(err)
	}
	return body, nil
}

// isToken reports whether b is a non-empty RFC 2616 token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}

// printable reports whether s has no control characters but tab; UTF-8
// is allowed, as some cameras send localised reason phrases.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// noEOF turns an EOF inside a message into io.ErrUnexpectedEOF: the
// server hung up half way, which is not the clean close io.EOF means.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// writeRequest formats one request. url and the header values come from
// us or from checked SDP, so none holds CR or LF.
func writeRequest(b *bytes.Buffer, method, url string, cseq int, hdr []string) {
	b.WriteString(method)
	b.WriteByte(' ')
	b.WriteString(url)
	b.WriteString(" RTSP/1.0\r\nCSeq: ")
	b.WriteString(strconv.Itoa(cseq))
	b.WriteString("\r\n")
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			continue
		}
		b.WriteString(hdr[i])
		b.WriteString(": ")
		b.WriteString(hdr[i+1])
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
}
