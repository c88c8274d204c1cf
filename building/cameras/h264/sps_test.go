package h264

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

// The hex SPSs below were made here with ffmpeg's libx264 from testsrc2,
// one frame each; the comment gives the options.
var knownSPS = []struct {
	name string
	hex  string
	want SPS
}{
	{
		name: "clip 640x360 constrained baseline",
		hex:  "6742c016d900a02ff970110000030001000003001e0f162e48",
		want: SPS{ProfileIDC: 66, ConstraintFlags: 0xc0, LevelIDC: 22, ChromaFormatIDC: 1, BitDepthLuma: 8, BitDepthChroma: 8, Width: 640, Height: 360, FrameMbsOnly: true},
	},
	{
		name: "1920x1080 high, cropped from 1088", // -profile:v high -pix_fmt yuv420p
		hex:  "67640028acd940780227e5c044000003000400000300c83c60c658",
		want: SPS{ProfileIDC: 100, LevelIDC: 40, ChromaFormatIDC: 1, BitDepthLuma: 8, BitDepthChroma: 8, Width: 1920, Height: 1080, FrameMbsOnly: true},
	},
	{
		name: "1280x720 main", // -profile:v main -pix_fmt yuv420p
		hex:  "674d401feca02802dd80880000030008000003019078c18cb0",
		want: SPS{ProfileIDC: 77, ConstraintFlags: 0x40, LevelIDC: 31, ChromaFormatIDC: 1, BitDepthLuma: 8, BitDepthChroma: 8, Width: 1280, Height: 720, FrameMbsOnly: true},
	},
	{
		name: "1920x1080 high 4:4:4 predictive", // -pix_fmt yuv444p
		hex:  "67f40028919b280f0044fc4e0220000003002000000641e30632c0",
		want: SPS{ProfileIDC: 244, LevelIDC: 40, ChromaFormatIDC: 3, BitDepthLuma: 8, BitDepthChroma: 8, Width: 1920, Height: 1080, FrameMbsOnly: true},
	},
	{
		name: "1920x1080 high interlaced", // -flags +ildct+ilme -x264-params interlaced=1
		hex:  "67640028acd94078044fde0220000003002000000643e2c5b2c0",
		want: SPS{ProfileIDC: 100, LevelIDC: 40, ChromaFormatIDC: 1, BitDepthLuma: 8, BitDepthChroma: 8, Width: 1920, Height: 1080, FrameMbsOnly: false},
	},
	{
		name: "642x362 high, cropped on both axes",
		hex:  "6764001eacd940a42fe224c044000003000400000300c83c58b658",
		want: SPS{ProfileIDC: 100, LevelIDC: 30, ChromaFormatIDC: 1, BitDepthLuma: 8, BitDepthChroma: 8, Width: 642, Height: 362, FrameMbsOnly: true},
	},
	{
		name: "1280x720 high 10", // -pix_fmt yuv420p10le
		hex:  "676e001fa6cd9405005bb011000003000100000300320f183196",
		want: SPS{ProfileIDC: 110, LevelIDC: 31, ChromaFormatIDC: 1, BitDepthLuma: 10, BitDepthChroma: 10, Width: 1280, Height: 720, FrameMbsOnly: true},
	},
	{
		name: "352x288 baseline",
		hex:  "6742c00dd9016096c044000003000400000300c83c50a920",
		want: SPS{ProfileIDC: 66, ConstraintFlags: 0xc0, LevelIDC: 13, ChromaFormatIDC: 1, BitDepthLuma: 8, BitDepthChroma: 8, Width: 352, Height: 288, FrameMbsOnly: true},
	},
}

// spsFields drives writeSPS, for SPSs no encoder here produces.
type spsFields struct {
	profile, constraint, level uint8
	id                         uint64
	chroma                     uint64
	separate                   bool
	depthLuma, depthChroma     uint64 // minus 8
	scaling                    [][]int64
	poc                        uint64
	pocCycle                   []int64
	widthMbs, heightUnits      uint64 // minus 1
	frameMbsOnly               bool
	crop                       []uint64 // left, right, top, bottom; nil for none
}

func writeSPS(f spsFields) []byte {
	var w bitWriter
	w.u(8, uint64(f.profile))
	w.u(8, uint64(f.constraint))
	w.u(8, uint64(f.level))
	w.ue(f.id)
	if hasChromaInfo(f.profile) {
		w.ue(f.chroma)
		if f.chroma == 3 {
			w.flag(f.separate)
		}
		w.ue(f.depthLuma)
		w.ue(f.depthChroma)
		w.flag(false)
		w.flag(f.scaling != nil)
		if f.scaling != nil {
			lists := 8
			if f.chroma == 3 {
				lists = 12
			}
			for i := range lists {
				var deltas []int64
				if i < len(f.scaling) {
					deltas = f.scaling[i]
				}
				w.flag(deltas != nil)
				for _, d := range deltas {
					w.se(d)
				}
			}
		}
	}
	w.ue(0) // log2_max_frame_num_minus4
	w.ue(f.poc)
	switch f.poc {
	case 0:
		w.ue(2)
	case 1:
		w.flag(false)
		w.se(-3)
		w.se(7)
		w.ue(uint64(len(f.pocCycle)))
		for _, o := range f.pocCycle {
			w.se(o)
		}
	}
	w.ue(3) // max_num_ref_frames
	w.flag(false)
	w.ue(f.widthMbs)
	w.ue(f.heightUnits)
	w.flag(f.frameMbsOnly)
	if !f.frameMbsOnly {
		w.flag(true)
	}
	w.flag(true)
	w.flag(f.crop != nil)
	for _, c := range f.crop {
		w.ue(c)
	}
	w.flag(false) // vui_parameters_present_flag
	return w.nalu(0x67)
}

func zeros(n int) []int64 { return make([]int64, n) }

var syntheticSPS = []struct {
	name string
	f    spsFields
	want SPS
}{
	{
		name: "high 4:2:2, POC type 1, escapes in the cycle",
		f: spsFields{
			profile: 122, level: 40, chroma: 2, poc: 1, pocCycle: []int64{1 << 20, -5, 1 << 22},
			widthMbs: 79, heightUnits: 44, frameMbsOnly: true, crop: []uint64{2, 2, 1, 3},
		},
		want: SPS{ProfileIDC: 122, LevelIDC: 40, ChromaFormatIDC: 2, BitDepthLuma: 8, BitDepthChroma: 8, Width: 1272, Height: 716, FrameMbsOnly: true},
	},
	{
		name: "high with scaling lists",
		f: spsFields{
			profile: 100, constraint: 0x0c, level: 42, chroma: 1, depthChroma: 2,
			scaling:  [][]int64{{-8}, zeros(16), nil, {3, -2, -9}, nil, nil, {5, -13}, zeros(64)},
			widthMbs: 119, heightUnits: 67, frameMbsOnly: true, crop: []uint64{0, 0, 0, 4},
		},
		want: SPS{ProfileIDC: 100, ConstraintFlags: 0x0c, LevelIDC: 42, ChromaFormatIDC: 1, BitDepthLuma: 8, BitDepthChroma: 10, Width: 1920, Height: 1080, FrameMbsOnly: true},
	},
	{
		name: "4:4:4 separate planes, 12 scaling lists, fields",
		f: spsFields{
			profile: 244, level: 30, chroma: 3, separate: true,
			scaling: [][]int64{{-8}, {-8}, {-8}, {-8}, {-8}, {-8}, {-8}, {-8}, {-8}, {-8}, {-8}, zeros(64)},
			poc:     2, widthMbs: 44, heightUnits: 17, crop: []uint64{3, 0, 1, 1},
		},
		want: SPS{ProfileIDC: 244, LevelIDC: 30, ChromaFormatIDC: 3, BitDepthLuma: 8, BitDepthChroma: 8, Width: 717, Height: 572},
	},
	{
		name: "monochrome",
		f: spsFields{
			profile: 100, level: 20, chroma: 0, poc: 2,
			widthMbs: 9, heightUnits: 8, frameMbsOnly: true, crop: []uint64{0, 1, 0, 1},
		},
		want: SPS{ProfileIDC: 100, LevelIDC: 20, ChromaFormatIDC: 0, BitDepthLuma: 8, BitDepthChroma: 8, Width: 159, Height: 143, FrameMbsOnly: true},
	},
	{
		name: "baseline at the largest accepted size",
		f:    spsFields{profile: 66, level: 62, id: 31, widthMbs: 1023, heightUnits: 1023, frameMbsOnly: true},
		want: SPS{ProfileIDC: 66, LevelIDC: 62, ChromaFormatIDC: 1, BitDepthLuma: 8, BitDepthChroma: 8, Width: 16384, Height: 16384, FrameMbsOnly: true},
	},
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseSPS(t *testing.T) {
	type tc struct {
		name string
		nalu []byte
		want SPS
	}
	var cases []tc
	for _, k := range knownSPS {
		cases = append(cases, tc{k.name, mustHex(t, k.hex), k.want})
	}
	for _, s := range syntheticSPS {
		cases = append(cases, tc{s.name, writeSPS(s.f), s.want})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseSPS(c.nalu)
			if err != nil {
				t.Fatalf("ParseSPS: %v", err)
			}
			if got != c.want {
				t.Errorf("ParseSPS =\n %+v\nwant\n %+v", got, c.want)
			}
			// Every prefix either fails or, once the cropping fields are
			// in, gives the same answer: truncation never invents figures.
			for n := range len(c.nalu) {
				if p, err := ParseSPS(c.nalu[:n]); err == nil && p != c.want {
					t.Errorf("prefix of %d bytes parsed as %+v", n, p)
				}
			}
		})
	}
}

func TestParseSPSClip(t *testing.T) {
	var sps []byte
	for _, n := range SplitAnnexB(readClip(t)) {
		if NALType(n) == NALSPS {
			sps = n
			break
		}
	}
	got, err := ParseSPS(sps)
	if err != nil {
		t.Fatalf("ParseSPS(clip SPS): %v", err)
	}
	if got.Width != 640 || got.Height != 360 || got.ProfileIDC != 66 || !got.BrowserSafe() {
		t.Errorf("clip SPS = %+v, want 640x360 baseline, browser safe", got)
	}
	if got := ProfileLevelID(sps); got != "42c016" {
		t.Errorf("ProfileLevelID = %q, want 42c016", got)
	}
}

func TestSyntheticSPSHasEscapes(t *testing.T) {
	// The first synthetic case exists to exercise emulation prevention; make
	// sure the writer really produced escapes, or the test proves nothing.
	if b := writeSPS(syntheticSPS[0].f); !bytes.Contains(b, []byte{0, 0, 3}) {
		t.Fatalf("synthetic SPS %x has no emulation-prevention byte", b)
	}
}

func TestParseSPSErrors(t *testing.T) {
	ok := spsFields{profile: 100, level: 40, chroma: 1, widthMbs: 79, heightUnits: 44, frameMbsOnly: true}
	with := func(change func(*spsFields)) []byte {
		f := ok
		change(&f)
		return writeSPS(f)
	}
	tests := []struct {
		name string
		nalu []byte
	}{
		{"empty", nil},
		{"header only", []byte{0x67}},
		{"PPS", []byte{0x68, 0xce, 0x3c, 0x80}},
		{"all ones", bytes.Repeat([]byte{0xff}, 16)},
		{"SPS header then zeros", append([]byte{0x67, 100, 0, 40}, make([]byte, 12)...)},
		{"seq_parameter_set_id 32", with(func(f *spsFields) { f.id = 32 })},
		{"chroma_format_idc 4", with(func(f *spsFields) { f.chroma = 4 })},
		{"bit depth 15", with(func(f *spsFields) { f.depthLuma = 7 })},
		{"scaling delta out of range", with(func(f *spsFields) { f.scaling = [][]int64{{200}} })},
		{"pic_order_cnt_type 3", with(func(f *spsFields) { f.poc = 3 })},
		{"POC cycle of 256", with(func(f *spsFields) { f.poc = 1; f.pocCycle = zeros(256) })},
		{"width over the limit", with(func(f *spsFields) { f.widthMbs = 1024 })},
		{"height over the limit in fields", with(func(f *spsFields) { f.frameMbsOnly = false; f.heightUnits = 512 })},
		{"width near 2^32 MBs", with(func(f *spsFields) { f.widthMbs = 1<<32 - 2 })},
		{"crop takes the whole width", with(func(f *spsFields) { f.crop = []uint64{320, 320, 0, 0} })},
		{"crop offset near 2^32", with(func(f *spsFields) { f.crop = []uint64{0, 0, 0, 1<<32 - 2} })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, err := ParseSPS(tt.nalu); !errors.Is(err, ErrInvalidSPS) {
				t.Errorf("ParseSPS(%x) = %+v, %v; want ErrInvalidSPS", tt.nalu, got, err)
			}
		})
	}
}

func TestBrowserSafe(t *testing.T) {
	for _, k := range knownSPS {
		s := k.want
		want := s.ProfileIDC != 244 && s.ProfileIDC != 110
		if got := s.BrowserSafe(); got != want {
			t.Errorf("%s: BrowserSafe = %v, want %v", k.name, got, want)
		}
	}
}

func TestProfileLevelID(t *testing.T) {
	tests := []struct {
		sps  []byte
		want string
	}{
		{[]byte{0x67, 0x42, 0xe0, 0x1f, 0xda}, "42e01f"},
		{[]byte{0x67, 0x64, 0x00, 0x28}, "640028"},
		{[]byte{0x67, 0x42, 0xe0}, ""},
		{[]byte{0x68, 0x42, 0xe0, 0x1f}, ""},
		{nil, ""},
	}
	for _, tt := range tests {
		if got := ProfileLevelID(tt.sps); got != tt.want {
			t.Errorf("ProfileLevelID(%x) = %q, want %q", tt.sps, got, tt.want)
		}
	}
}
