package accounts_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/crierhq/crier/accounts"
)

func TestEffectiveServerWinsOverConsole(t *testing.T) {
	t.Parallel()
	cases := []struct {
		onServer, stored bool
		want             accounts.Origin
		editable         bool
	}{
		{true, true, accounts.OnServer, false},
		{true, false, accounts.OnServer, false},
		{false, true, accounts.FromConsole, true},
		{false, false, accounts.NotConnected, true},
	}
	for _, c := range cases {
		got := accounts.Effective(c.onServer, c.stored)
		if got != c.want || got.Editable() != c.editable {
			t.Errorf("Effective(onServer=%v, stored=%v) = %q editable=%v, want %q editable=%v", c.onServer, c.stored, got, got.Editable(), c.want, c.editable)
		}
	}
}

func TestMayChangeRefusesServerConfiguredInstance(t *testing.T) {
	t.Parallel()
	err := accounts.MayChange("mastodon-leeds", true)
	var server accounts.ConfiguredOnServerError
	if !errors.As(err, &server) || !strings.Contains(err.Error(), "mastodon-leeds is configured on the server") {
		t.Fatalf("err = %v, want ConfiguredOnServerError naming the instance", err)
	}
	if err := accounts.MayChange("mastodon-leeds", false); err != nil {
		t.Fatalf("err = %v, want nil for an instance not configured on the server", err)
	}
}
