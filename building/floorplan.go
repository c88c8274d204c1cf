package building

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/xml"
	"errors"
	"fmt"
	"image/png"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Floor plan content types.
const (
	PlanPNG = "image/png"
	PlanSVG = "image/svg+xml"
)

// Floor plan limits beyond the byte size.
const (
	maxPlanPixels   = 20000 // width and height of a PNG
	maxSVGDepth     = 256
	maxSVGElements  = 200000
	maxPlanErrQuote = 40
)

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// SetFloorPlan stores a floor's plan: a PNG, or an SVG that carries no
// script, no event handler, no foreignObject and no external reference
// (an SVG that has any of them is refused, never cleaned up). The bytes
// are kept in the store exactly as checked. It returns the floor with its
// Plan content type.
func (s *Service) SetFloorPlan(ctx context.Context, floor string, data []byte) (Floor, error) {
	ctype, err := checkFloorPlan(data, s.cfg.MaxFloorPlanBytes)
	if err != nil {
		s.log.Info("floor plan refused", "floor", floor, "bytes", len(data), "why", err)
		return Floor{}, err
	}
	err = s.change(ctx, "set plan of floor "+floor, func(tx *sql.Tx) error {
		if err := mustExist(ctx, tx, tFloors, floor, "floor"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO building_floor_plans (floor, content_type, data, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (floor) DO UPDATE SET content_type = excluded.content_type, data = excluded.data, updated_at = excluded.updated_at`,
			floor, ctype, data, ms(s.now()))
		return err
	})
	if err != nil {
		return Floor{}, err
	}
	s.publishFloor(floor)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m.floors[floor], nil
}

// FloorPlan returns a floor's plan and its content type. Serve an SVG
// with that content type, "X-Content-Type-Options: nosniff" and a
// Content-Security-Policy that allows no script.
func (s *Service) FloorPlan(ctx context.Context, floor string) (contentType string, data []byte, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT content_type, data FROM building_floor_plans WHERE floor = ?`, floor).Scan(&contentType, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, fmt.Errorf("%w: floor %s has no plan", ErrNotFound, floor)
	}
	if err != nil {
		return "", nil, fmt.Errorf("read plan of floor %s: %w", floor, err)
	}
	return contentType, data, nil
}

// DeleteFloorPlan removes a floor's plan; its placements stay.
func (s *Service) DeleteFloorPlan(ctx context.Context, floor string) error {
	err := s.change(ctx, "delete plan of floor "+floor, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM building_floor_plans WHERE floor = ?`, floor)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: floor %s has no plan", ErrNotFound, floor)
		}
		return nil
	})
	if err == nil {
		s.publishFloor(floor)
	}
	return err
}

// checkFloorPlan checks an uploaded plan and returns its content type.
func checkFloorPlan(data []byte, maxBytes int) (string, error) {
	if len(data) > maxBytes {
		return "", fmt.Errorf("%w: a floor plan may be at most %s; this one is %s", ErrTooLarge, mib(maxBytes), mib(len(data)))
	}
	if len(data) == 0 {
		return "", invalidf("the floor plan is empty")
	}
	if bytes.HasPrefix(data, pngMagic) {
		cfg, err := png.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return "", invalidf("the PNG file is damaged (%v)", err)
		}
		if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > maxPlanPixels || cfg.Height > maxPlanPixels {
			return "", invalidf("a PNG floor plan may be at most %d pixels wide and high", maxPlanPixels)
		}
		return PlanPNG, nil
	}
	rest := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	if len(rest) > 0 && rest[0] == '<' {
		if err := checkSVG(data); err != nil {
			return "", err
		}
		return PlanSVG, nil
	}
	return "", invalidf("a floor plan must be a PNG or SVG image")
}

func mib(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", (n+1023)/1024)
}

const (
	nsSVG   = "http://www.w3.org/2000/svg"
	nsXHTML = "http://www.w3.org/1999/xhtml"
	nsXML   = "http://www.w3.org/XML/1998/namespace"
)

// svgRefused are elements (lower-case local names, in any namespace) an
// SVG floor plan must not have: they run script, embed other documents,
// or load from elsewhere.
var svgRefused = map[string]bool{
	"script": true, "foreignobject": true, "iframe": true, "frame": true, "frameset": true,
	"embed": true, "object": true, "applet": true, "handler": true, "listener": true,
	"audio": true, "video": true, "base": true, "link": true, "meta": true, "form": true,
	"input": true, "button": true, "textarea": true, "portal": true, "import": true,
}

// svgAnimations are the animation elements; one that animates a link or
// an event handler could swap in script, so its attributeName is checked.
var svgAnimations = map[string]bool{
	"animate": true, "set": true, "animatemotion": true, "animatetransform": true, "animatecolor": true,
}

// svgError is the ErrInvalid for a refused SVG, with the reason.
func svgError(format string, args ...any) error {
	return invalidf("the SVG floor plan was refused: "+format, args...)
}

// checkSVG parses an SVG with encoding/xml and refuses it if it has
// anything that could run script or load from elsewhere: script,
// foreignObject and other embedding elements, on* event attributes,
// javascript:/vbscript: URLs, links other than "#fragment" or an embedded
// raster data: image, CSS imports or external url(), xml:base, a DOCTYPE
// with an internal subset (entities) and processing instructions such as
// xml-stylesheet. The root must be <svg>.
func checkSVG(data []byte) error {
	if !utf8.Valid(data) {
		return svgError("it must be UTF-8 text")
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	depth, elements, inStyle := 0, 0, 0
	root := false
	// The text of a <style> is checked whole at its end: CDATA sections
	// and comments may split it into pieces that are harmless alone.
	var style strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return svgError("it is not well-formed XML (%s)", truncate(err.Error(), 120))
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			elements++
			if depth > maxSVGDepth || elements > maxSVGElements {
				return svgError("it is nested too deeply or has too many elements")
			}
			if inStyle > 0 {
				return svgError("its <style> holds elements, not just CSS")
			}
			if !root {
				if t.Name.Local != "svg" {
					return svgError("its root element is <%s>, not <svg>", truncate(t.Name.Local, maxPlanErrQuote))
				}
				if t.Name.Space != nsSVG && t.Name.Space != "" {
					return svgError("its <svg> is in namespace %q, not %s", truncate(t.Name.Space, maxPlanErrQuote), nsSVG)
				}
				root = true
			}
			if err := checkSVGElement(t); err != nil {
				return err
			}
			if strings.EqualFold(t.Name.Local, "style") {
				inStyle++
			}
		case xml.EndElement:
			depth--
			if strings.EqualFold(t.Name.Local, "style") && inStyle > 0 {
				inStyle--
				if err := checkCSS(style.String()); err != nil {
					return err
				}
				style.Reset()
			}
		case xml.CharData:
			if inStyle > 0 {
				style.Write(t)
			}
		case xml.ProcInst:
			if t.Target != "xml" {
				return svgError("it has a <?%s?> processing instruction", truncate(t.Target, maxPlanErrQuote))
			}
		case xml.Directive:
			dir := strings.ToUpper(string(t))
			if !strings.HasPrefix(strings.TrimSpace(dir), "DOCTYPE") || strings.ContainsAny(dir, "[<") || strings.Contains(dir, "ENTITY") {
				return svgError("it declares a DOCTYPE with an internal subset or entities")
			}
		}
	}
	if !root {
		return svgError("it has no <svg> element")
	}
	return nil
}

// checkSVGElement checks one element and its attributes.
func checkSVGElement(t xml.StartElement) error {
	local := strings.ToLower(t.Name.Local)
	if svgRefused[local] {
		return svgError("it has a <%s> element", truncate(t.Name.Local, maxPlanErrQuote))
	}
	if t.Name.Space == nsXHTML {
		return svgError("it has an HTML element <%s>", truncate(t.Name.Local, maxPlanErrQuote))
	}
	for _, a := range t.Attr {
		name := strings.ToLower(a.Name.Local)
		decl := a.Name.Space == "xmlns" || a.Name.Space == "" && name == "xmlns"
		if hasScriptURL(a.Value) {
			return svgError("attribute %s has a script URL", truncate(a.Name.Local, maxPlanErrQuote))
		}
		if decl {
			continue // a namespace name, never loaded
		}
		switch {
		case strings.HasPrefix(name, "on"):
			return svgError("it has an event handler attribute %s", truncate(a.Name.Local, maxPlanErrQuote))
		case name == "base" && (a.Name.Space == nsXML || a.Name.Space == "xml"):
			return svgError("it sets xml:base")
		case name == "href" || name == "src":
			if !internalRef(a.Value) {
				return svgError("a %s points outside the file (%q); only #fragment links and embedded PNG/JPEG/GIF/WebP images are allowed",
					name, truncate(a.Value, maxPlanErrQuote))
			}
		case name == "style":
			if err := checkCSS(a.Value); err != nil {
				return err
			}
		case name == "attributename" && svgAnimations[local]:
			target := strings.ToLower(strings.TrimSpace(a.Value))
			if i := strings.IndexByte(target, ':'); i >= 0 {
				target = target[i+1:]
			}
			if target == "href" || target == "src" || target == "style" || strings.HasPrefix(target, "on") {
				return svgError("an animation changes %s", truncate(a.Value, maxPlanErrQuote))
			}
		}
		if strings.Contains(strings.ToLower(a.Value), "url(") {
			if err := checkCSS(a.Value); err != nil {
				return err
			}
		}
	}
	return nil
}

// hasScriptURL reports whether v holds a javascript:, vbscript: or HTML
// data: URL anywhere, ignoring case, white space and control characters
// (as browsers do inside a URL scheme).
func hasScriptURL(v string) bool {
	var b strings.Builder
	for _, r := range v {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	s := b.String()
	return strings.Contains(s, "javascript:") || strings.Contains(s, "vbscript:") ||
		strings.Contains(s, "data:text/html") || strings.Contains(s, "data:application") || strings.Contains(s, "data:image/svg")
}

// internalRef reports whether a link stays inside the file: empty, a
// #fragment, or an embedded raster image.
func internalRef(v string) bool {
	v = strings.TrimSpace(v)
	if v == "" || strings.HasPrefix(v, "#") {
		return true
	}
	l := strings.ToLower(v)
	for _, p := range []string{"data:image/png;", "data:image/jpeg;", "data:image/gif;", "data:image/webp;"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

// checkCSS refuses style text that could load from elsewhere or run
// script: @import, url() other than #fragment or an embedded raster image,
// image-set(), expression(), script URLs, and CSS escapes (which could
// hide any of these).
func checkCSS(css string) error {
	l := strings.ToLower(css)
	switch {
	case strings.Contains(l, `\`):
		return svgError("its CSS has escapes")
	case strings.Contains(l, "@import"), strings.Contains(l, "@font-face"):
		return svgError("its CSS imports other files")
	case strings.Contains(l, "expression("), strings.Contains(l, "image-set("), strings.Contains(l, "image("),
		strings.Contains(l, "src("), strings.Contains(l, "behavior"), strings.Contains(l, "-moz-binding"):
		return svgError("its CSS loads or runs something")
	case hasScriptURL(css):
		return svgError("its CSS has a script URL")
	}
	for rest := l; ; {
		i := strings.Index(rest, "url(")
		if i < 0 {
			return nil
		}
		rest = rest[i+4:]
		j := strings.IndexByte(rest, ')')
		if j < 0 {
			return svgError("its CSS has an unfinished url(")
		}
		target := strings.Trim(strings.TrimSpace(rest[:j]), `"'`)
		if !internalRef(target) {
			return svgError("its CSS url(%s) points outside the file", truncate(target, maxPlanErrQuote))
		}
		rest = rest[j+1:]
	}
}
