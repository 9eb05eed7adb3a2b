package matrixroom

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/crierhq/crier/channels"
)

// TestRefusedCredentialsAreRecorded: a homeserver refusing the token or the
// account's rights is channels.Refused, so the Channels page can say "token
// rejected on DATE"; a missing room is not about credentials.
func TestRefusedCredentialsAreRecorded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status  int
		code    string
		refused bool
	}{
		{http.StatusUnauthorized, "M_UNKNOWN_TOKEN", true},
		{http.StatusForbidden, "M_FORBIDDEN", true},
		{http.StatusNotFound, "M_NOT_FOUND", false},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(tc.status)
			w.Write([]byte(`{"errcode":"` + tc.code + `","error":"no"}`))
		}))
		c := &Client{Homeserver: srv.URL, Token: "t", HTTP: srv.Client()}
		err := c.Call(context.Background(), http.MethodGet, "/_matrix/client/v3/account/whoami", nil, nil)
		srv.Close()
		if kind, _ := channels.Classify(err); kind != channels.KindPermanent || channels.IsRefused(err) != tc.refused {
			t.Errorf("%d %s: %v (refused %v), want permanent, refused %v", tc.status, tc.code, err, channels.IsRefused(err), tc.refused)
		}
	}
}
