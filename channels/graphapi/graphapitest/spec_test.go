package graphapitest

import (
	"strings"
	"testing"
)

// TestSpecChecksWhatMetaPublishes checks the checker: calls and fields the
// vendored specs list pass, others are named.
func TestSpecChecksWhatMetaPublishes(t *testing.T) {
	t.Parallel()
	page, err := loadSpec("Page")
	if err != nil {
		t.Fatal(err)
	}
	post, err := loadSpec("PagePost")
	if err != nil {
		t.Fatal(err)
	}
	ok := []struct {
		spec                 nodeSpec
		method, edge, fields string
		params               map[string]string
		files                []string
	}{
		{page, "POST", "feed", "", map[string]string{"message": "hi", "link": "https://example.org", "published": "true"}, nil},
		{page, "POST", "photos", "", map[string]string{"message": "hi", "alt_text_custom": "a march"}, []string{"source"}},
		{page, "GET", "", "name,id", nil, nil},
		{post, "GET", "", "message,shares,reactions.summary(total_count).limit(0),comments.summary(true){message,created_time}", nil, nil},
		{post, "POST", "", "", map[string]string{"message": "corrected"}, nil},
		{post, "DELETE", "", "", map[string]string{}, nil},
	}
	for _, c := range ok {
		params := c.params
		if params == nil {
			params = map[string]string{}
		}
		if c.fields != "" {
			params["fields"] = c.fields
		}
		if bad := c.spec.check("node", c.method, c.edge, params, c.files); len(bad) > 0 {
			t.Errorf("%s %s: %v", c.method, c.edge, bad)
		}
	}
	for _, c := range []struct {
		spec         nodeSpec
		method, edge string
		params       map[string]string
		says         string
	}{
		{page, "POST", "feed", map[string]string{"mesage": "typo"}, `"mesage" is not in Meta's spec`},
		{page, "POST", "feed", map[string]string{"published": "yes"}, "is not a bool"},
		{page, "PUT", "feed", nil, "is not in Meta's spec"},
		{post, "GET", "", map[string]string{"fields": "message,likes_count"}, `field "likes_count"`},
	} {
		bad := c.spec.check("node", c.method, c.edge, c.params, nil)
		if len(bad) == 0 || !strings.Contains(strings.Join(bad, ";"), c.says) {
			t.Errorf("%s %s %v: got %v, want %q", c.method, c.edge, c.params, bad, c.says)
		}
	}
}
