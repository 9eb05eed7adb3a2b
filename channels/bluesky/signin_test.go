package bluesky

import (
	"fmt"
	"strings"
	"testing"

	"github.com/crierhq/crier/channels"
)

// TestClassifySignIn: a sign-in the server refuses with a 4xx is not
// retried (the service address or the account is wrong, found by the
// conformance suite for 404, 413 and 422); a busy or failing server is.
func TestClassifySignIn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		want   channels.Kind
	}{
		{401, channels.KindPermanent}, {403, channels.KindPermanent}, {404, channels.KindPermanent},
		{413, channels.KindPermanent}, {422, channels.KindPermanent},
		{408, channels.KindTemporary}, {500, channels.KindTemporary}, {502, channels.KindTemporary},
		{429, channels.KindRateLimited},
	} {
		err := classifySignIn(fmt.Errorf("com.atproto.server.createSession: %w", &xrpcError{Status: tc.status}))
		if k, _ := channels.Classify(err); k != tc.want {
			t.Errorf("%d: %v, want %v: %v", tc.status, k, tc.want, err)
		}
		// A refused handle or password shows on the Channels page.
		if refused := tc.status == 401 || tc.status == 403; channels.IsRefused(err) != refused {
			t.Errorf("%d: refused credentials = %v, want %v", tc.status, channels.IsRefused(err), refused)
		}
		if tc.status == 404 && !strings.Contains(err.Error(), "channels.bluesky.service") {
			t.Errorf("404: %q does not name the setting to check", err)
		}
	}
}
