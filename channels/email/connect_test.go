package email

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/internal/testpeers/mailpit"
)

// TestCheckConnectionAgainstMailpit: the right login connects and names
// the sending address; a wrong password, a server that does not answer and
// a From that is not an address are refused with the field to fix, never
// echoing the password.
func TestCheckConnectionAgainstMailpit(t *testing.T) {
	t.Parallel()
	mp := mailpit.Start(t, mailpit.Options{Users: map[string]string{"news": "correct-horse-7"}})
	check := func(over map[string]string) (string, error) {
		values := map[string]string{"smtp.host": mp.SMTPHost, "smtp.port": strconv.Itoa(mp.SMTPPort), "smtp.tls": "none",
			"smtp.username": "news", "smtp.password": "correct-horse-7", "from": "CAMACA <news@camaca.example>"}
		for k, v := range over {
			values[k] = v
		}
		return Provider{}.CheckConnection(context.Background(), channels.Env{}, channels.Connection{Instance: "email", Values: values})
	}
	if d, err := check(nil); err != nil || d != "news@camaca.example via 127.0.0.1" {
		t.Fatalf("right login: %q, %v", d, err)
	}
	for _, tc := range []struct {
		name        string
		over        map[string]string
		field, says string
	}{
		{"wrong password", map[string]string{"smtp.password": "wrong-secret"}, "smtp.password", "refused this user name and password"},
		{"no server there", map[string]string{"smtp.port": "1"}, "smtp.host", "could not connect"},
		{"no host", map[string]string{"smtp.host": ""}, "smtp.host", "SMTP server's name"},
		{"bad from", map[string]string{"from": "news at camaca"}, "from", "must be an address"},
		{"bad port", map[string]string{"smtp.port": "port"}, "smtp.port", "port number"},
		{"clear text far away", map[string]string{"smtp.host": "smtp.example.org"}, "smtp.tls", "unencrypted"},
	} {
		_, err := check(tc.over)
		var ce *channels.ConnectError
		if !errors.As(err, &ce) || ce.Field != tc.field || !strings.Contains(ce.Reason, tc.says) {
			t.Errorf("%s: err = %v, want field %s saying %q", tc.name, err, tc.field, tc.says)
		}
		if err != nil && strings.Contains(err.Error(), "wrong-secret") {
			t.Errorf("%s: the error shows the password: %v", tc.name, err)
		}
	}
}
