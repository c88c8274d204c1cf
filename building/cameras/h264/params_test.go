package h264

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"
)

func TestParseSpropParameterSets(t *testing.T) {
	sps := mustHex(t, knownSPS[0].hex)
	pps := []byte{0x68, 0xcb, 0x83, 0xcb, 0x20}
	sei := []byte{0x06, 0x05, 0x01, 0x80}
	b64 := base64.StdEncoding.EncodeToString
	raw := base64.RawStdEncoding.EncodeToString
	list := b64(sps) + "," + b64(pps)

	tests := []struct {
		name    string
		in      string
		wantErr bool
	}{
		{"bare value", list, false},
		{"parameter", "sprop-parameter-sets=" + list, false},
		{"whole fmtp", "packetization-mode=1; profile-level-id=42c016; sprop-parameter-sets=" + list + "; level-asymmetry-allowed=1", false},
		{"key in capitals", "Sprop-Parameter-Sets=" + list, false},
		{"unpadded", raw(sps) + "," + raw(pps), false},
		{"PPS first", b64(pps) + "," + b64(sps), false},
		{"extra SEI and spaces", " " + b64(sps) + " , " + b64(sei) + "," + b64(pps) + ",", false},
		{"first of each kind wins", list + "," + b64([]byte{0x67, 1, 2, 3}) + "," + b64([]byte{0x68, 9}), false},
		{"empty", "", true},
		{"SPS only", b64(sps), true},
		{"PPS only", b64(pps), true},
		{"bad base64", b64(sps) + ",!!!!", true},
		{"other parameters only", "packetization-mode=1;profile-level-id=42e01f", true},
		{"key without value", "sprop-parameter-sets", true},
		{"key with empty value", "sprop-parameter-sets=;packetization-mode=1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gotSPS, gotPPS, err := ParseSpropParameterSets(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidSprop) {
					t.Errorf("error = %v, want ErrInvalidSprop", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if !bytes.Equal(gotSPS, sps) || !bytes.Equal(gotPPS, pps) {
				t.Errorf("got sps %x pps %x, want %x %x", gotSPS, gotPPS, sps, pps)
			}
		})
	}
}

func TestWithParameterSets(t *testing.T) {
	sps, pps := nal(NALSPS, 10), nal(NALPPS, 4)
	cameraSPS := nal(NALSPS, 12)
	aud, sei, idr, p1 := []byte{0x09, 0xf0}, nal(NALSEI, 5), nal(NALIDR, 40), nal(NALSlice, 20)

	tests := []struct {
		name string
		au   AccessUnit
		want [][]byte
	}{
		{"IDR without parameter sets", AccessUnit{NALUs: [][]byte{idr}, Keyframe: true}, [][]byte{sps, pps, idr}},
		{"AUD stays first", AccessUnit{NALUs: [][]byte{aud, sei, idr}, Keyframe: true}, [][]byte{aud, sps, pps, sei, idr}},
		{"already has both", AccessUnit{NALUs: [][]byte{cameraSPS, pps, idr}, Keyframe: true}, [][]byte{cameraSPS, pps, idr}},
		{"has SPS, lacks PPS", AccessUnit{NALUs: [][]byte{aud, cameraSPS, idr}, Keyframe: true}, [][]byte{aud, cameraSPS, pps, idr}},
		{"has PPS, lacks SPS", AccessUnit{NALUs: [][]byte{pps, idr}, Keyframe: true}, [][]byte{sps, pps, idr}},
		{"non-keyframe unchanged", AccessUnit{NALUs: [][]byte{p1}}, [][]byte{p1}},
		{"empty keyframe", AccessUnit{Keyframe: true}, [][]byte{sps, pps}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.au.Timestamp = 4242
			before := append([][]byte(nil), tt.au.NALUs...)
			got := WithParameterSets(tt.au, sps, pps)
			if !sameAU(got, AccessUnit{NALUs: tt.want, Timestamp: 4242, Keyframe: tt.au.Keyframe}) {
				t.Errorf("got %x\nwant %x", got.NALUs, tt.want)
			}
			for i := range before {
				if !bytes.Equal(before[i], tt.au.NALUs[i]) {
					t.Fatalf("input NALUs slice was written to")
				}
			}
		})
	}
	// Missing arguments add nothing rather than empty NAL units.
	au := AccessUnit{NALUs: [][]byte{idr}, Keyframe: true}
	if got := WithParameterSets(au, nil, nil); len(got.NALUs) != 1 {
		t.Errorf("nil parameter sets added NAL units: %x", got.NALUs)
	}
}
