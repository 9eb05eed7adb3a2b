package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestSafeNextAsABrowserReadsIt: the address after sign-in stays on this
// site however it is spelled; browsers drop tab, LF and CR anywhere in a URL
// and read a backslash as a slash, so "/\t/evil.com" is "//evil.com".
func TestSafeNextAsABrowserReadsIt(t *testing.T) {
	t.Parallel()
	const home = "/posts"
	for _, tc := range []struct{ in, want string }{
		{"/posts/console:abc", "/posts/console:abc"},
		{"/posts?status=review&q=a%20b", "/posts?status=review&q=a%20b"},
		{"/calendar#week", "/calendar#week"},
		{"/%5c/evil.com", home},                // a backslash once decoded
		{"/%2509/evil.com", "/%2509/evil.com"}, // encoded twice: still a path here
		{"/p\t/x", "/p/x"},                     // tab removed as the browser does
		{"", home},
		{"posts", home},
		{"//evil.com", home},
		{"///evil.com", home},
		{"/\t/evil.com", home},
		{"/\n/evil.com", home},
		{"/\r/evil.com", home},
		{"/\r\n/evil.com", home},
		{"\t//evil.com", home},
		{"/\\evil.com", home},
		{"\\/evil.com", home},
		{"\\\\evil.com", home},
		{"/\\/evil.com", home},
		{"/x/\\evil", home},
		{"/%2f/evil.com", home}, // decodes to //evil.com
		{"/%2F%2Fevil.com", home},
		{"/%5C/evil.com", home},
		{"/%5c%5cevil.com", home},
		{"/%09/evil.com", home}, // a tab once decoded
		{"/%0a/evil.com", home},
		{"/%0d/evil.com", home},
		{"/%zz", home}, // not a valid escape
		{" //evil.com", home},
		{" /posts", home},
		{"\x00/posts", home},
		{"/posts\x00", home},
		{"\x1f//evil.com", home},
		{"javascript:alert(1)", home},
		{"JavaScript:alert(1)", home},
		{"java\tscript:alert(1)", home},
		{"https://evil.com/", home},
		{"http:/evil.com", home},
		{"http:evil.com", home},
		{"data:text/html,<script>", home},
		{"/\x7f/evil.com", home},
		{"/ /evil.com", home},
		{"/\u00a0/evil.com", home},
		{"/\u3000/evil.com", home},
		{"/@evil.com", "/@evil.com"},
	} {
		if got := safeNext(tc.in); got != tc.want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestSignInRedirectStaysOnSite: GET /login?next=/%09/evil.com and a normal
// sign-in go to the posts, not to //evil.com.
func TestSignInRedirectStaysOnSite(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, next := range []string{"/%09/evil.com", "/%0a/evil.com", "/%5c/evil.com", "%5c/evil.com", "/%5c%5cevil.com", "//evil.com"} {
		br := b.browser(t)
		p := br.get("/login?next=" + next)
		m := loginRe.FindStringSubmatch(p.body)
		if m == nil {
			t.Fatal("no login token")
		}
		form := url.Values{"login_token": {m[1]}, "email": {"editor@example.org"}, "password": {"correct horse battery"}}
		// The form's own hidden field, and a forged one posted directly.
		for _, posted := range []string{hiddenNext(p.body), mustUnescape(t, next)} {
			form.Set("next", posted)
			got := br.postRaw("/login", form)
			if got.status != http.StatusSeeOther {
				t.Fatalf("next=%s: sign-in %d", next, got.status)
			}
			u, err := url.Parse(got.loc)
			if err != nil || u.Host != "" || u.Scheme != "" || strings.ContainsAny(got.loc, "\t\n\r\\") ||
				strings.HasPrefix(strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(got.loc), "//") {
				t.Fatalf("next=%s (posted %q): Location %q leaves the site", next, posted, got.loc)
			}
			m = loginRe.FindStringSubmatch(br.get("/login").body)
			form.Set("login_token", m[1])
		}
	}
}

var nextRe = strings.NewReplacer("&#39;", "'", "&amp;", "&", "&#34;", `"`, "&lt;", "<", "&gt;", ">", "&#9;", "\t", "&#10;", "\n", "&#13;", "\r")

func hiddenNext(body string) string {
	_, rest, _ := strings.Cut(body, `name="next" value="`)
	v, _, _ := strings.Cut(rest, `"`)
	return nextRe.Replace(v)
}

func mustUnescape(t *testing.T, s string) string {
	v, err := url.QueryUnescape(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// postRaw posts a form with the browser's cookies and returns the answer as
// sent: Go's client refuses to parse a Location with a control character,
// which a browser would follow.
func (br *browser) postRaw(path string, form url.Values) page {
	br.t.Helper()
	req, err := http.NewRequest("POST", br.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		br.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range br.client.Jar.Cookies(req.URL) {
		req.AddCookie(c)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		br.t.Fatal(err)
	}
	br.client.Jar.SetCookies(req.URL, resp.Cookies())
	return readPage(br.t, resp)
}
