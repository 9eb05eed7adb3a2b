package bluesky_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/bluesky"
	"github.com/crierhq/crier/channels/channeltest"
	"github.com/crierhq/crier/internal/testpeers/blueskypds"
	"github.com/crierhq/crier/post"
)

// TestConformance runs the channel conformance suite against a real PDS,
// which validates every record against the lexicon (300 graphemes of
// text), once shortening long posts and once threading them.
func TestConformance(t *testing.T) {
	t.Parallel()
	pds := blueskypds.Start(t)
	for _, thread := range []bool{false, true} {
		over := channeltest.Shorten
		if thread {
			over = channeltest.Split
		}
		t.Run(fmt.Sprintf("thread=%v", thread), func(t *testing.T) {
			channeltest.Run(t, channeltest.Harness{
				Provider: bluesky.Provider{},
				Start:    func(t *testing.T) *channeltest.Peer { return peer(t, pds, thread) },
				Decode:   channeltest.DecodeJSON[bluesky.Parts],
				// A larger picture is recompressed to fit the blob limit.
				Image: &channeltest.ImageLimit{Max: bluesky.MaxBlobBytes, Resized: true},
				Messages: func(b channels.Body) []string {
					var out []string
					for _, p := range b.(bluesky.Parts) {
						out = append(out, p.Record.Text)
					}
					return out
				},
				// No edit on Bluesky: the default correction is a reply
				// under a record key derived from the correction.
				Corrections: &channeltest.Corrections{
					Style: channels.CorrectByReply,
					Changes: func(r *http.Request) bool {
						return r.Method == http.MethodPost && r.URL.Path == "/xrpc/com.atproto.repo.createRecord"
					},
					Read: func(t *testing.T, uri string) (string, bool) { return readPost(pds, uri) },
				},
				Limits: []channeltest.Limit{{
					// One grapheme of two code points: a channel counting
					// code points would stop at half.
					Name: "post graphemes", Max: 300, Unit: "👍🏽", Over: over,
					Fill: func(p post.Post, filler string) post.Post {
						p.Summary, p.Body = "", filler
						return p
					},
					Count: channeltest.Graphemes,
				}, {
					// A family emoji is one grapheme of 25 bytes: the
					// lexicon's 3,000 bytes bind before its 300 graphemes.
					Name: "post bytes", Max: 3000, Unit: "👨‍👩‍👧‍👦", Over: over,
					Fill: func(p post.Post, filler string) post.Post {
						p.Summary, p.Body = "", filler
						return p
					},
					Count: func(s string) int { return len(s) },
				}},
			})
		})
	}
}

// peer is a new account on the PDS.
func peer(t *testing.T, pds *blueskypds.Server, thread bool) *channeltest.Peer {
	acct := pds.NewAccount(t)
	return &channeltest.Peer{
		Section: fmt.Sprintf("service: %s\nhandle: %s\napp_password: %s\nthread: %v\n", pds.URL, acct.Handle, acct.AppPassword, thread),
		Secrets: []string{acct.AppPassword, acct.Password, acct.AccessJwt},
		Creates: func(r *http.Request) bool {
			return r.Method == http.MethodPost && r.URL.Path == "/xrpc/com.atproto.repo.createRecord"
		},
		Count: func(t *testing.T) int { return len(pds.ListRecords(t, acct.DID, bluesky.Collection)) },
		// A second account likes the post; the PDS alone has no App View
		// to count it, so every counter must read "not available".
		Reach: func(t *testing.T, parts []channels.Part) channels.Counters {
			fan := pds.NewAccount(t)
			var subject struct {
				URI string `json:"uri"`
				CID string `json:"cid"`
			}
			for _, r := range pds.ListRecords(t, acct.DID, bluesky.Collection) {
				if r.URI == parts[0].RemoteID {
					subject.URI, subject.CID = r.URI, r.CID
				}
			}
			like := map[string]any{"repo": fan.DID, "collection": "app.bsky.feed.like",
				"record": map[string]any{"subject": subject, "createdAt": time.Now().UTC().Format(time.RFC3339)}}
			if err := pds.XRPC(http.MethodPost, "com.atproto.repo.createRecord", fan.AccessJwt, nil, like, nil); err != nil {
				t.Fatal(err)
			}
			return channels.Counters{}
		},
	}
}

// readPost returns the text of the post at an at:// URI, and false when the
// PDS has no such record.
func readPost(pds *blueskypds.Server, uri string) (string, bool) {
	f := strings.Split(strings.TrimPrefix(uri, "at://"), "/")
	if len(f) != 3 {
		return "", false
	}
	var out struct {
		Value struct {
			Text string `json:"text"`
		} `json:"value"`
	}
	q := url.Values{"repo": {f[0]}, "collection": {f[1]}, "rkey": {f[2]}}
	if err := pds.XRPC(http.MethodGet, "com.atproto.repo.getRecord", "", q, nil, &out); err != nil {
		return "", false
	}
	return out.Value.Text, true
}
