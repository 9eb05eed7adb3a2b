package main

import (
	"strings"

	"github.com/crierhq/crier/config"
)

// resolveFeedURL makes a local feed file relative to the config file, so the
// shipped config works from any working directory.
func resolveFeedURL(cfg *config.Config, u string) string {
	if strings.Contains(u, "://") {
		return u
	}
	return cfg.Resolve(u)
}
