package e2e

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// staticDir is the console's UI, relative to this package.
const staticDir = "../webui/static"

// scriptTag matches a script element: its attributes and its body.
var scriptTag = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`)

// TestStaticUIRules checks the UI files against rules the browser test
// cannot see on every path: the CSP (no inline scripts or styles, nothing
// from other origins), type-checked JavaScript, and no HTML built from
// strings, so names typed by users can never become markup.
func TestStaticUIRules(t *testing.T) {
	type rule struct {
		name    string
		applies func(path string) bool
		bad     *regexp.Regexp // must not match
		must    *regexp.Regexp // must match, when set
	}
	isJS := func(p string) bool { return strings.HasSuffix(p, ".js") }
	isHTML := func(p string) bool { return strings.HasSuffix(p, ".html") }
	isText := func(p string) bool { return isJS(p) || isHTML(p) || strings.HasSuffix(p, ".css") }
	rules := []rule{
		{name: "starts with // @ts-check", applies: isJS, must: regexp.MustCompile(`\A// @ts-check\n`)},
		{name: "no innerHTML/outerHTML/insertAdjacentHTML/document.write", applies: isJS, bad: regexp.MustCompile(`\b(innerHTML|outerHTML|insertAdjacentHTML|document\.write)\b`)},
		{name: "no inline style from script", applies: isJS, bad: regexp.MustCompile(`\.style\s*[.=\[]|setAttribute\(\s*["']style["']|\beval\(|new Function\(`)},
		{name: "no inline style in HTML", applies: isHTML, bad: regexp.MustCompile(`\sstyle=|<style[\s>]|\son[a-z]+=`)},
		{name: "no resources from other origins", applies: isText, bad: regexp.MustCompile(`(?:src|href)=["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//|import\s[^;]*["'](?:https?:)?//`)},
	}
	var files []string
	err := filepath.WalkDir(staticDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", staticDir, err)
	}
	if len(files) == 0 {
		t.Fatalf("no files under %s", staticDir)
	}
	for _, want := range []string{"index.html", "css/app.css", "css/components.css", "js/app.js", "js/ws.js", "js/protocol.js", "js/i18n.js", "js/topbar.js", "js/views/login.js", "js/views/users.js", "js/views/audit.js", "js/views/system.js"} {
		if _, err := os.Stat(filepath.Join(staticDir, want)); err != nil {
			t.Errorf("missing %s: %v", want, err)
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("read %s: %v", f, err)
		}
		src := string(b)
		for _, r := range rules {
			if !r.applies(f) {
				continue
			}
			if r.bad != nil {
				if m := r.bad.FindStringIndex(src); m != nil {
					line := strings.Count(src[:m[0]], "\n") + 1
					t.Errorf("%s:%d breaks %q: %q", f, line, r.name, src[m[0]:m[1]])
				}
			}
			if r.must != nil && !r.must.MatchString(src) {
				t.Errorf("%s breaks %q", f, r.name)
			}
		}
		if isHTML(f) {
			for _, m := range scriptTag.FindAllStringSubmatch(src, -1) {
				if !strings.Contains(m[1], "src=") || strings.TrimSpace(m[2]) != "" {
					t.Errorf("%s has an inline script (the CSP blocks it): %q", f, m[0])
				}
			}
		}
	}
}
