package rtsp

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestParseSDPCameras: SDPs as cameras send them (testdata/*.sdp), quirks
// and all.
func TestParseSDPCameras(t *testing.T) {
	tests := []struct {
		file, base string
		want       []Media
		aggregate  string
	}{
		{"hikvision.sdp", "rtsp://192.168.1.64:554/Streaming/Channels/101?transportmode=unicast", []Media{{
			Type: "video", Codec: "H264", PayloadType: 96, ClockRate: 90000,
			Control: "rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=1?transportmode=unicast",
			Fmtp: map[string]string{"profile-level-id": "420029", "packetization-mode": "1",
				"sprop-parameter-sets": "Z00AKp2oHgCJ+WbgICAoAAADAAgAAAMBlCA=,aO48gA=="},
		}}, "rtsp://192.168.1.64:554/Streaming/Channels/101/?transportmode=unicast"},
		{"dahua.sdp", "rtsp://10.1.1.9:554/cam/realmonitor?channel=1&subtype=0/", []Media{{
			Type: "video", Codec: "H264", PayloadType: 96, ClockRate: 90000,
			Control: "rtsp://10.1.1.9:554/cam/realmonitor?channel=1&subtype=0/trackID=0",
			Fmtp: map[string]string{"packetization-mode": "1", "profile-level-id": "4D002A",
				"sprop-parameter-sets": "Z00AKp2oHgCJ+WbgICAgQA==,aO48gA=="},
		}, {
			Type: "audio", Codec: "PCMA", PayloadType: 8, ClockRate: 8000,
			Control: "rtsp://10.1.1.9:554/cam/realmonitor?channel=1&subtype=0/trackID=1",
		}}, "rtsp://10.1.1.9:554/cam/realmonitor?channel=1&subtype=0/"},
		{"h265.sdp", "rtsp://10.0.0.5:8554/cam/", []Media{{
			Type: "video", Codec: "H265", PayloadType: 96, ClockRate: 90000,
			Control: "rtsp://10.0.0.5:8554/cam/stream=0",
			Fmtp: map[string]string{"sprop-vps": "QAEMAf//AWAAAAMAkAAAAwAAAwA/lZgJ",
				"sprop-sps": "QgEBAWAAAAMAkAAAAwAAAwA/oAUCAXHy5ZWZJMrgEAAAAwAQAAADAeCA", "sprop-pps": "RAHBcrRiQA=="},
		}}, "rtsp://10.0.0.5:8554/cam"},
		{"jpeg-no-t.sdp", "rtsp://127.0.0.1/mjpeg", []Media{{
			Type: "video", Codec: "JPEG", PayloadType: 26, ClockRate: 90000, Control: "rtsp://127.0.0.1/mjpeg/track1",
		}, {
			Type: "application", Codec: "VND.ONVIF.METADATA", PayloadType: 107, ClockRate: 90000,
			Control: "rtsp://127.0.0.1/mjpeg/track2",
		}}, "rtsp://127.0.0.1/mjpeg"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, agg, err := parseSDP(body, tt.base)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("media:\n got %+v\nwant %+v", got, tt.want)
			}
			if agg != tt.aggregate {
				t.Errorf("aggregate %q, want %q", agg, tt.aggregate)
			}
		})
	}
}

func TestParseSDPErrors(t *testing.T) {
	tests := []struct{ name, sdp string }{
		{"empty", ""},
		{"no v= first", "o=- 0 0 IN IP4 1.2.3.4\r\nv=0\r\n"},
		{"not SDP", "<html>hello</html>"},
		{"bad line", "v=0\r\nm=video 0 RTP/AVP 96\r\nhello\r\n"},
		{"second v=", "v=0\r\nv=0\r\n"},
		{"short m=", "v=0\r\nm=video 0 RTP/AVP\r\n"},
		{"payload type too big", "v=0\r\nm=video 0 RTP/AVP 300\r\n"},
		{"bad clock rate", "v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/fast\r\n"},
		{"bad rtpmap", "v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96\r\n"},
		{"bad fmtp", "v=0\r\nm=video 0 RTP/AVP 96\r\na=fmtp:x y=1\r\n"},
		{"control with space", "v=0\r\nm=video 0 RTP/AVP 96\r\na=control:track 1\r\n"},
		{"control char", "v=0\r\nm=video 0 RTP/AVP 96\r\na=control:tr\x01ack\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ms, err := ParseSDP([]byte(tt.sdp), "rtsp://h/p"); !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseSDP = %+v, %v; want ErrMalformed", ms, err)
			}
		})
	}
}

// TestParseSDPDetails: payload type choice, rtpmap and fmtp of other
// payload types, non-RTP media, static types.
func TestParseSDPDetails(t *testing.T) {
	sdp := "v=0\r\n" +
		"m=video 0 RTP/AVP 97 96\r\n" +
		"a=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=0\r\n" +
		"a=rtpmap:97 h265/90000\r\na=fmtp:97 Sprop-VPS = QAE= ; ;flag\r\n" +
		"m=application 9 TCP/MSRP *\r\na=control:msrp\r\n" +
		"m=audio 0 RTP/AVP 0\r\n"
	got, err := ParseSDP([]byte(sdp), "rtsp://h/p/")
	if err != nil {
		t.Fatal(err)
	}
	want := []Media{
		{Type: "video", Codec: "H265", PayloadType: 97, ClockRate: 90000, Control: "rtsp://h/p/",
			Fmtp: map[string]string{"sprop-vps": "QAE=", "flag": ""}},
		{Type: "audio", Codec: "PCMU", PayloadType: 0, ClockRate: 8000, Control: "rtsp://h/p/"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("\n got %+v\nwant %+v", got, want)
	}
}

// TestResolveControl covers RFC 2326 C.1.1 and what cameras really send.
func TestResolveControl(t *testing.T) {
	tests := []struct{ base, control, want string }{
		{"rtsp://h/cam/", "trackID=1", "rtsp://h/cam/trackID=1"},
		{"rtsp://h/cam", "trackID=1", "rtsp://h/cam/trackID=1"},
		{"rtsp://h:554/cam/", "*", "rtsp://h:554/cam/"},
		{"rtsp://h/cam", "", "rtsp://h/cam"},
		{"rtsp://h/cam/", "rtsp://other:8554/x/y", "rtsp://other:8554/x/y"},
		{"rtsp://h/cam/", "RTSP://H/Y", "RTSP://H/Y"},
		{"rtsp://h:554/cam/", "/abs/track1", "rtsp://h:554/abs/track1"},
		{"rtsp://h", "/abs", "rtsp://h/abs"},
		{"rtsp://h?x=1", "/abs", "rtsp://h/abs"},
		{"rtsp://h/cam/realmonitor?channel=1&subtype=0/", "trackID=0", "rtsp://h/cam/realmonitor?channel=1&subtype=0/trackID=0"},
		{"rtsp://h/live.sdp?token=x", "track1", "rtsp://h/live.sdp?token=x/track1"},
		{"rtsp://h/Streaming/Channels/101/?transportmode=unicast", "rtsp://h/Streaming/Channels/101/trackID=1?transportmode=unicast",
			"rtsp://h/Streaming/Channels/101/trackID=1?transportmode=unicast"},
	}
	for _, tt := range tests {
		if got := resolveControl(tt.base, tt.control); got != tt.want {
			t.Errorf("resolveControl(%q, %q) = %q, want %q", tt.base, tt.control, got, tt.want)
		}
	}
}

// TestContentBase: Content-Base, then Content-Location, then the request.
func TestContentBase(t *testing.T) {
	const req = "rtsp://h/a/cam"
	tests := []struct {
		name string
		h    header
		want string
	}{
		{"Content-Base", header{"content-base": {"rtsp://h/a/cam/"}, "content-location": {"rtsp://h/x/"}}, "rtsp://h/a/cam/"},
		{"Content-Location", header{"content-location": {"rtsp://h/x/"}}, "rtsp://h/x/"},
		{"relative Content-Location", header{"content-location": {"other/"}}, "rtsp://h/a/other/"},
		{"request URL", header{}, req},
		{"bad Content-Base", header{"content-base": {"http://h/"}}, req},
		{"Content-Base with a space", header{"content-base": {"rtsp://h/a b/"}}, req},
	}
	for _, tt := range tests {
		if got := contentBase(tt.h, req); got != tt.want {
			t.Errorf("%s: contentBase = %q, want %q", tt.name, got, tt.want)
		}
	}
}
