package prompts

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"testing"
	"time"
)

// Level bounds every prompt must meet.
const (
	minDuration = 500 * time.Millisecond
	maxDuration = 8 * time.Second
	minRMS      = 2000  // about -24 dBFS; the generator aims at -16
	maxPeak     = 29205 // -1 dBFS; the generator aims at -3 (23197)
)

func duration(samples []int16, rate int) time.Duration {
	return time.Duration(len(samples)) * time.Second / time.Duration(rate)
}

func rms(samples []int16) float64 {
	var sum float64
	for _, s := range samples {
		sum += float64(s) * float64(s)
	}
	return math.Sqrt(sum / float64(len(samples)))
}

func peak(samples []int16) int {
	m := 0
	for _, s := range samples {
		m = max(m, abs(int(s)))
	}
	return m
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func mustGet(t testing.TB, lang, name string, rate int) []int16 {
	t.Helper()
	s, err := Get(lang, name, rate)
	if err != nil {
		t.Fatalf("Get(%q, %q, %d): %v", lang, name, rate, err)
	}
	return s
}

// TestEveryPrompt checks that each name exists in both languages at both
// rates, lasts 0.5 to 8 s, is loud enough and does not clip.
func TestEveryPrompt(t *testing.T) {
	for _, lang := range Languages() {
		for _, rate := range Rates() {
			for _, name := range Names() {
				t.Run(fmt.Sprintf("%s/%d/%s", lang, rate, name), func(t *testing.T) {
					s := mustGet(t, lang, name, rate)
					if d := duration(s, rate); d < minDuration || d > maxDuration {
						t.Errorf("duration %v, want %v to %v", d, minDuration, maxDuration)
					}
					if got := rms(s); got < minRMS {
						t.Errorf("RMS %.0f (%.1f dBFS), want at least %d: silent or too quiet", got, 20*math.Log10(got/32768), minRMS)
					}
					if got := peak(s); got > maxPeak {
						t.Errorf("peak %d (%.1f dBFS), want at most %d: clips", got, 20*math.Log10(float64(got)/32768), maxPeak)
					}
					// Trimmed: speech starts and ends within 10 ms.
					edge := rate / 100
					if peak(s[:edge]) == 0 || peak(s[len(s)-edge:]) == 0 {
						t.Errorf("silence at the start or end; the generator trims it")
					}
				})
			}
		}
	}
}

// TestRatesAgree checks that the 8 kHz and 16 kHz versions of each prompt
// are the same recording: durations within 5%.
func TestRatesAgree(t *testing.T) {
	for _, lang := range Languages() {
		for _, name := range Names() {
			d8 := duration(mustGet(t, lang, name, Rate8k), Rate8k)
			d16 := duration(mustGet(t, lang, name, Rate16k), Rate16k)
			if diff := math.Abs(float64(d8-d16)) / float64(d8); diff > 0.05 {
				t.Errorf("%s/%s: %v at 8 kHz, %v at 16 kHz (%.1f%% apart, want at most 5%%)", lang, name, d8, d16, 100*diff)
			}
		}
	}
}

// TestChineseIsSpoken guards against espeak-ng spelling the Mandarin out
// letter by letter, or reading tone numbers as English words ("qing three"),
// which the plain cmn voice of espeak-ng 1.51 does. Spelling makes a prompt
// several times longer than its English version; the tone numbers make all of
// them together about 1.7 times longer (measured), where real Mandarin is
// about 1.2 times.
func TestChineseIsSpoken(t *testing.T) {
	var enTotal, zhTotal time.Duration
	for _, name := range Names() {
		en := duration(mustGet(t, English, name, Rate8k), Rate8k)
		zh := duration(mustGet(t, Chinese, name, Rate8k), Rate8k)
		enTotal += en
		zhTotal += zh
		if ratio := float64(zh) / float64(en); ratio > 3 || ratio < 1.0/3 {
			t.Errorf("%s: Chinese %v, English %v (ratio %.2f, want within 3x)", name, zh, en, ratio)
		}
	}
	if ratio := float64(zhTotal) / float64(enTotal); ratio > 1.45 {
		t.Errorf("all Chinese prompts %v, all English %v: ratio %.2f, want at most 1.45", zhTotal, enTotal, ratio)
	}
	t.Logf("Chinese %v, English %v", zhTotal, enTotal)
}

func TestGetLanguage(t *testing.T) {
	zh := mustGet(t, Chinese, EnterPIN, Rate8k)
	en := mustGet(t, English, EnterPIN, Rate8k)
	if slices.Equal(zh, en) {
		t.Fatal("the Chinese and English prompts are the same")
	}
	for _, tc := range []struct {
		lang string
		want []int16
	}{
		{"en", en},
		{"zh", zh},
		{"ZH", zh},
		{"zh-CN", zh},
		{"zh_TW", zh},
		{"cmn", zh},
		{"", en},
		{"en-GB", en},
		{"fr", en},
		{"xx-not-a-tag", en},
	} {
		got := mustGet(t, tc.lang, EnterPIN, Rate8k)
		if !slices.Equal(got, tc.want) {
			t.Errorf("Get(%q): got the %s prompt", tc.lang, map[bool]string{true: "Chinese", false: "English"}[slices.Equal(got, zh)])
		}
	}
}

func TestGetErrors(t *testing.T) {
	for _, tc := range []struct {
		lang, name string
		rate       int
		want       error
	}{
		{"en", "no_such_prompt", Rate8k, ErrUnknownPrompt},
		{"zh", "", Rate16k, ErrUnknownPrompt},
		{"en", "../wav/en/8000/welcome", Rate8k, ErrUnknownPrompt},
		{"en", "Welcome", Rate8k, ErrUnknownPrompt},
		{"en", Welcome, 44100, ErrRate},
		{"en", Welcome, 0, ErrRate},
		{"en", Welcome, -8000, ErrRate},
	} {
		got, err := Get(tc.lang, tc.name, tc.rate)
		if !errors.Is(err, tc.want) || got != nil {
			t.Errorf("Get(%q, %q, %d) = %d samples, %v; want %v", tc.lang, tc.name, tc.rate, len(got), err, tc.want)
		}
	}
}

// TestGetReturnsCopy checks that a caller changing its samples does not
// change what the next caller gets.
func TestGetReturnsCopy(t *testing.T) {
	a := mustGet(t, English, Muted, Rate8k)
	want := slices.Clone(a)
	clear(a)
	if b := mustGet(t, English, Muted, Rate8k); !slices.Equal(b, want) {
		t.Fatal("a second Get saw the first caller's change")
	}
}

func TestNamesLanguagesRates(t *testing.T) {
	names := Names()
	if len(names) != 12 {
		t.Errorf("%d names, want 12: %v", len(names), names)
	}
	if s := slices.Compact(slices.Sorted(slices.Values(names))); len(s) != len(names) {
		t.Errorf("duplicate names: %v", names)
	}
	names[0] = "changed"
	if Names()[0] != Welcome {
		t.Error("Names shares its slice with the caller")
	}
	if got, want := Languages(), []string{"en", "zh"}; !slices.Equal(got, want) {
		t.Errorf("Languages() = %v, want %v", got, want)
	}
	if got, want := Rates(), []int{8000, 16000}; !slices.Equal(got, want) {
		t.Errorf("Rates() = %v, want %v", got, want)
	}
}

// TestEmbeddedFiles checks that the binary carries exactly the generated
// files, one per language, rate and name, plus VERSION, and that Get needs
// neither the source tree nor any tool: it runs from an empty directory
// with no PATH, so a test never depends on rerunning gen-prompts.sh.
func TestEmbeddedFiles(t *testing.T) {
	want := []string{"wav/VERSION"}
	for _, lang := range Languages() {
		for _, rate := range Rates() {
			for _, name := range Names() {
				want = append(want, fmt.Sprintf("wav/%s/%d/%s.wav", lang, rate, name))
			}
		}
	}
	var got []string
	err := fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			got = append(got, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("embedded files:\n got %v\nwant %v\n(run scripts/gen-prompts.sh and keep Names in step with it)", got, want)
	}
	version, err := files.ReadFile("wav/VERSION")
	if err != nil || len(version) == 0 {
		t.Errorf("wav/VERSION: %q, %v", version, err)
	}
	t.Logf("generated by:\n%s", version)

	t.Chdir(t.TempDir())
	t.Setenv("PATH", "")
	for _, lang := range Languages() {
		for _, rate := range Rates() {
			for _, name := range Names() {
				mustGet(t, lang, name, rate)
			}
		}
	}
}

func BenchmarkGet(b *testing.B) {
	for b.Loop() {
		if _, err := Get(Chinese, EnterPIN, Rate16k); err != nil {
			b.Fatal(err)
		}
	}
}
