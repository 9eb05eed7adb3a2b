package bluesky

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/internal/testpeers/blueskypds"
)

// TestCheckConnectionAgainstPDS: an app password connects and names the
// account; the main password, a wrong password and a wrong server are each
// refused with the field to fix.
func TestCheckConnectionAgainstPDS(t *testing.T) {
	t.Parallel()
	pds := blueskypds.Start(t)
	acct := pds.NewAccount(t)
	env := channels.Env{HTTPClient: &http.Client{Timeout: 30 * time.Second}}
	ctx := context.Background()
	check := func(values map[string]string) (string, error) {
		return Provider{}.CheckConnection(ctx, env, channels.Connection{Instance: "bluesky", Values: values})
	}
	display, err := check(map[string]string{"handle": "@" + acct.Handle, "app_password": acct.AppPassword, "service": pds.URL})
	if err != nil || display != "@"+acct.Handle {
		t.Fatalf("app password: %q, %v; want @%s", display, err, acct.Handle)
	}
	for _, tc := range []struct {
		name, handle, password, service string
		field, says                     string
	}{
		{"main password", acct.Handle, acct.Password, pds.URL, "app_password", "account's own password"},
		{"wrong password", acct.Handle, "aaaa-bbbb-cccc-dddd", pds.URL, "app_password", "refused this handle and app password"},
		{"no server", acct.Handle, acct.AppPassword, pds.URL + "/nothing-here", "service", "no Bluesky server"},
		{"no password", acct.Handle, "", pds.URL, "app_password", "App passwords"},
	} {
		_, err := check(map[string]string{"handle": tc.handle, "app_password": tc.password, "service": tc.service})
		var ce *channels.ConnectError
		if !errors.As(err, &ce) || ce.Field != tc.field || !strings.Contains(ce.Reason, tc.says) {
			t.Errorf("%s: err = %v, want field %s saying %q", tc.name, err, tc.field, tc.says)
		}
		if err != nil && (strings.Contains(err.Error(), acct.Password) || strings.Contains(err.Error(), acct.AppPassword)) {
			t.Errorf("%s: the error shows a password: %v", tc.name, err)
		}
	}
}

func TestConnectFieldsMarkThePasswordSecret(t *testing.T) {
	t.Parallel()
	secret := map[string]bool{}
	for _, f := range (Provider{}).ConnectFields() {
		secret[f.Name] = f.Secret
		if f.Label == "" || f.Help == "" {
			t.Errorf("%s has no label or help", f.Name)
		}
	}
	if !secret["app_password"] || secret["handle"] || secret["service"] {
		t.Fatalf("secret fields = %v, want only app_password", secret)
	}
}
