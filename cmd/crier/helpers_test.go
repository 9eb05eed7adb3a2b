package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// bundle is a test's own Crier: a folder with its config file, and the
// environment that config reads. Nothing is read from the process's own
// environment, so tests with a bundle run in parallel.
type bundle struct {
	t *testing.T
	// dir is the test's folder; cfg is dir/config.yaml.
	dir, cfg string
	// env is what CRIER_CONFIG and ${VAR} in the config expand from.
	env map[string]string
}

// setup gives the test a folder of its own, with config (when not empty)
// written to config.yaml in it.
func setup(t *testing.T, config string) *bundle {
	t.Helper()
	dir := t.TempDir()
	b := &bundle{t: t, dir: dir, cfg: filepath.Join(dir, "config.yaml"), env: map[string]string{}}
	if config != "" {
		b.write("config.yaml", config)
	}
	return b
}

// write writes a file below the bundle's folder, making its parents.
func (b *bundle) write(name, content string) string {
	b.t.Helper()
	path := filepath.Join(b.dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		b.t.Fatal(err)
	}
	return path
}

// lookupEnv is the bundle's environment as App.LookupEnv.
func (b *bundle) lookupEnv(key string) (string, bool) {
	v, ok := b.env[key]
	return v, ok
}

// crier runs one command line against the bundle's config.
func (b *bundle) crier(args ...string) (code int, stdout, stderr string) {
	b.t.Helper()
	return runCLI(b.t, b.lookupEnv, "", append([]string{"--config", b.cfg}, args...)...)
}

// crierInput is crier with stdin as standard input.
func (b *bundle) crierInput(stdin string, args ...string) (code int, stdout, stderr string) {
	b.t.Helper()
	return runCLI(b.t, b.lookupEnv, stdin, append([]string{"--config", b.cfg}, args...)...)
}

// runCLI runs one command line as main does, with env as the whole
// environment (nil: an empty one) and stdin as standard input, and returns
// its exit code and output.
func runCLI(t *testing.T, env func(string) (string, bool), stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	var out, errOut bytes.Buffer
	app := &App{LookupEnv: env, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut, HTTPClient: &http.Client{Timeout: time.Minute}}
	code = runApp(context.Background(), app, args)
	return code, out.String(), errOut.String()
}
