package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestComposeFileMatchesTheDaemon checks compose.yaml against what the
// daemon reads, since Docker does not run here: both replicas run Crier on
// PostgreSQL with the same data volume, every variable they pass is one the
// shipped config reads, and the health check is a command that exits 0 on
// a fresh installation.
func TestComposeFileMatchesTheDaemon(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
			Healthcheck struct {
				Test []string `yaml:"test"`
			} `yaml:"healthcheck"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	config, err := os.ReadFile(filepath.Join("..", "..", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	read := map[string]bool{}
	for _, m := range regexp.MustCompile(`\$\{([A-Z0-9_]+)`).FindAllSubmatch(config, -1) {
		read[string(m[1])] = true
	}
	replicas := 0
	for name, svc := range compose.Services {
		if !strings.HasPrefix(name, "crier") {
			continue
		}
		replicas++
		if svc.Environment["CRIER_STORE_DRIVER"] != "postgres" || !strings.HasPrefix(svc.Environment["DATABASE_URL"], "postgres://") {
			t.Errorf("%s: not on PostgreSQL: %v", name, svc.Environment)
		}
		for k := range svc.Environment {
			if !read[k] {
				t.Errorf("%s sets %s, which config.yaml does not read", name, k)
			}
		}
		if !slices.Contains(svc.Volumes, "crier-data:/data") {
			t.Errorf("%s does not mount the shared data volume: %v", name, svc.Volumes)
		}
		hc := svc.Healthcheck.Test
		if len(hc) < 3 || hc[0] != "CMD" || filepath.Base(hc[1]) != "crier" {
			t.Fatalf("%s: health check %v is not a crier command", name, hc)
		}
		// The health check's command on a fresh installation (SQLite here:
		// the command line is what is checked).
		if code, _, errOut := setupShipped(t).crier(hc[2:]...); code != 0 {
			t.Errorf("%s: health check %v exits %d: %s", name, hc[2:], code, errOut)
		}
	}
	if replicas != 2 {
		t.Errorf("compose.yaml runs %d Crier replicas, want 2", replicas)
	}
}
