package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestLogsCarryNoAddresses: the daemon's logger, text or JSON, replaces a
// subscriber's address quoted in an error.
func TestLogsCarryNoAddresses(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"text", "json"} {
		var buf bytes.Buffer
		log := newLogger(&App{logFormat: format, logLevel: "debug"}, &buf)
		log.Error("admin: erasing subscriber", "err", fmt.Errorf("erasing subscriber %s: %w", "ada@example.org", errors.New("database is locked")))
		if strings.Contains(buf.String(), "ada@example.org") || !strings.Contains(buf.String(), "database is locked") {
			t.Errorf("%s log: %s", format, buf.String())
		}
	}
}
