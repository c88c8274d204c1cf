package building

import (
	"bytes"
	"context"
	"encoding/base64"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
)

// testPNG returns a small PNG.
func testPNG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(1, 1, color.RGBA{200, 0, 0, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// goodSVG is a plan as drawing programs write it: namespaces, metadata,
// gradients, internal links, CSS and an embedded PNG.
func goodSVG(t testing.TB) string {
	pngData := base64.StdEncoding.EncodeToString(testPNG(t, 2, 2))
	return `<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<!-- Created with a drawing program -->
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
     xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" width="800" height="600" viewBox="0 0 800 600">
  <metadata><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></metadata>
  <defs>
    <linearGradient id="g"><stop offset="0" stop-color="#eee"/><stop offset="1" stop-color="#ccc"/></linearGradient>
    <style type="text/css"><![CDATA[ .wall { stroke: #333; fill: url(#g); } ]]></style>
  </defs>
  <g inkscape:label="Walls" inkscape:groupmode="layer">
    <rect class="wall" x="10" y="10" width="780" height="580" style="fill:url('#g');stroke-width:4"/>
    <path d="M 100 100 L 300 100" stroke="black"/>
    <use xlink:href="#g" href="#g"/>
    <image x="0" y="0" width="2" height="2" href="data:image/png;base64,` + pngData + `"/>
    <text x="20" y="40" font-family="sans-serif">Ground floor &amp; lobby — 一楼</text>
    <a href="#top"><circle cx="5" cy="5" r="2"/></a>
    <animate attributeName="opacity" from="0" to="1" dur="1s"/>
  </g>
</svg>`
}

func TestCheckSVGRefuses(t *testing.T) {
	wrap := func(body string) string {
		return `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">` + body + `</svg>`
	}
	tests := []struct{ name, svg string }{
		{"script", wrap(`<script>alert(1)</script>`)},
		{"script in CDATA", wrap(`<script><![CDATA[alert(1)]]></script>`)},
		{"prefixed script", `<s:svg xmlns:s="http://www.w3.org/2000/svg"><s:script>alert(1)</s:script></s:svg>`},
		{"onload on the root", `<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>`},
		{"onclick", wrap(`<rect onclick="alert(1)"/>`)},
		{"upper-case handler", wrap(`<rect ONMOUSEOVER="alert(1)"/>`)},
		{"javascript link", wrap(`<a xlink:href="javascript:alert(1)"><rect/></a>`)},
		{"javascript with entities", wrap(`<a href="&#106;ava&#x09;script:alert(1)"><rect/></a>`)},
		{"javascript in another attribute", wrap(`<animate attributeName="fill" values="javascript:alert(1)"/>`)},
		{"foreignObject", wrap(`<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>`)},
		{"iframe", wrap(`<iframe src="https://evil.example"/>`)},
		{"external image", wrap(`<image href="https://evil.example/track.png"/>`)},
		{"external use", wrap(`<use xlink:href="other.svg#icon"/>`)},
		{"svg data image", wrap(`<image href="data:image/svg+xml;base64,PHN2Zz48L3N2Zz4="/>`)},
		{"html data", wrap(`<a href="data:text/html,<script>alert(1)</script>"><rect/></a>`)},
		{"protocol-relative link", wrap(`<image href="//evil.example/x.png"/>`)},
		{"stylesheet instruction", `<?xml-stylesheet href="https://evil.example/x.css"?>` + wrap(``)},
		{"entity declaration", `<!DOCTYPE svg [<!ENTITY x "boom">]>` + wrap(`<text>&x;</text>`)},
		{"unknown entity", wrap(`<text>&boom;</text>`)},
		{"css import", wrap(`<style>@import url(https://evil.example/x.css);</style>`)},
		{"css import split by CDATA", wrap(`<style>@im<![CDATA[port "https://evil.example/x.css";]]></style>`)},
		{"css import split by comment", wrap(`<style>@im<!-- -->port "https://evil.example/x.css";</style>`)},
		{"element inside style", wrap(`<style>@im<style/>port "x.css";</style>`)},
		{"css external url", wrap(`<rect style="fill: url(https://evil.example/x)"/>`)},
		{"presentation url", wrap(`<rect fill="url(https://evil.example/p#g)"/>`)},
		{"css escape", wrap(`<style>.a { background: \75 rl(https://evil.example) }</style>`)},
		{"css expression", wrap(`<rect style="width: expression(alert(1))"/>`)},
		{"animate href", wrap(`<a><animate attributeName="href" to="https://evil.example"/></a>`)},
		{"set onclick", wrap(`<set attributeName="onclick" to="alert(1)"/>`)},
		{"xhtml element", wrap(`<h:p xmlns:h="http://www.w3.org/1999/xhtml">x</h:p>`)},
		{"xml:base", wrap(`<g xml:base="https://evil.example/"><use href="#x"/></g>`)},
		{"html root", `<html><body><svg/></body></html>`},
		{"svg in another namespace", `<svg xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></svg>`},
		{"not well-formed", wrap(`<rect>`)},
		{"unclosed", `<svg xmlns="http://www.w3.org/2000/svg"><g>`},
		{"latin-1", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><svg xmlns=\"http://www.w3.org/2000/svg\"><text>caf\xe9</text></svg>"},
		{"only a comment", `<!-- nothing -->`},
		{"too deep", `<svg xmlns="http://www.w3.org/2000/svg">` + strings.Repeat("<g>", 300) + strings.Repeat("</g>", 300) + `</svg>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkSVG([]byte(tt.svg)); err == nil {
				t.Errorf("accepted:\n%s", tt.svg)
			} else if !strings.Contains(err.Error(), "invalid") {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestFloorPlanUpload(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, func(c *Config) { c.MaxFloorPlanBytes = 64 << 10 })
	e.seed(t)
	pngData := testPNG(t, 40, 30)
	f, err := e.s.SetFloorPlan(ctx, "f1", pngData)
	if err != nil {
		t.Fatal(err)
	}
	if f.ID != "f1" || f.Plan != PlanPNG {
		t.Errorf("floor %+v", f)
	}
	ctype, data, err := e.s.FloorPlan(ctx, "f1")
	if err != nil || ctype != PlanPNG || !bytes.Equal(data, pngData) {
		t.Fatalf("read back %s, %d bytes, %v", ctype, len(data), err)
	}

	svg := []byte(goodSVG(t))
	if f, err = e.s.SetFloorPlan(ctx, "f1", svg); err != nil {
		t.Fatal(err)
	}
	if f.Plan != PlanSVG {
		t.Errorf("floor %+v", f)
	}
	ctype, data, _ = e.s.FloorPlan(ctx, "f1")
	if ctype != PlanSVG || !bytes.Equal(data, svg) {
		t.Errorf("read back %s, %d bytes; want the SVG exactly as uploaded", ctype, len(data))
	}

	refused := []struct {
		name string
		data []byte
		want error
	}{
		{"svg with script", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), ErrInvalid},
		{"svg with onload", []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), ErrInvalid},
		{"text", []byte("this is not an image"), ErrInvalid},
		{"jpeg", []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), ErrInvalid},
		{"damaged png", append(append([]byte{}, pngMagic...), "garbage"...), ErrInvalid},
		{"empty", nil, ErrInvalid},
		{"too large", append(bytes.Clone(pngData), make([]byte, 64<<10)...), ErrTooLarge},
	}
	for _, tt := range refused {
		_, err := e.s.SetFloorPlan(ctx, "f1", tt.data)
		wantErr(t, tt.name, err, tt.want)
	}
	if ctype, data, _ := e.s.FloorPlan(ctx, "f1"); ctype != PlanSVG || !bytes.Equal(data, svg) {
		t.Error("a refused upload changed the plan")
	}
	_, err = e.s.SetFloorPlan(ctx, "f9", pngData)
	wantErr(t, "unknown floor", err, ErrNotFound)
	_, _, err = e.s.FloorPlan(ctx, "f2")
	wantErr(t, "floor without a plan", err, ErrNotFound)

	if err := e.s.DeleteFloorPlan(ctx, "f1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.s.FloorPlan(ctx, "f1"); err == nil {
		t.Error("plan still there after delete")
	}
	for _, f := range e.s.Floors() {
		if f.Plan != "" {
			t.Errorf("floor %+v still has a plan", f)
		}
	}
	wantErr(t, "delete again", e.s.DeleteFloorPlan(ctx, "f1"), ErrNotFound)
}

func TestPNGTooManyPixels(t *testing.T) {
	// A PNG header that claims 30000 x 10 pixels.
	big := testPNG(t, 30000, 1)
	if _, err := checkFloorPlan(big, 5<<20); err == nil {
		t.Error("accepted a PNG 30000 pixels wide")
	}
}
