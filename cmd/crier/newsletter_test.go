package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/crierhq/crier/internal/testpeers/mailpit"
)

// TestNewsletterTest sends the shipped sample post's test copy through a
// real Mailpit with `crier newsletter test`.
func TestNewsletterTest(t *testing.T) {
	t.Parallel()
	mp := mailpit.Start(t, mailpit.Options{})
	b := setupShipped(t)
	dir, cfgPath := b.dir, b.cfg
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(cfg), "host: ${SMTP_HOST:-}", "host: 127.0.0.1", 1)
	s = strings.Replace(s, "port: 587", "port: "+strconv.Itoa(mp.SMTPPort), 1)
	s = strings.Replace(s, "tls: starttls", "tls: none", 1)
	if s == string(cfg) {
		t.Fatal("could not point the shipped config at Mailpit")
	}
	os.WriteFile(cfgPath, []byte(s), 0o644)
	posts, _ := filepath.Glob(filepath.Join(dir, "posts", "*.md"))
	if len(posts) == 0 {
		t.Fatal("no sample posts")
	}
	var stdout, stderr bytes.Buffer
	code := b.main(context.Background(), []string{"--config", cfgPath, "newsletter", "test", posts[0], "--to", "Organiser <org@example.org>"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout.String(), stderr.String())
	}
	msgs, err := mp.Messages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].To[0].Address != "org@example.org" || !strings.HasPrefix(msgs[0].Subject, "[Test] ") {
		t.Fatalf("messages: %+v", msgs)
	}
	// Bad use: no --to.
	if code := b.main(context.Background(), []string{"--config", cfgPath, "newsletter", "test", posts[0]}, &stdout, &stderr); code != 2 {
		t.Errorf("without --to: exit %d", code)
	}
}
