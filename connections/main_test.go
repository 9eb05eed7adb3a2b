package connections_test

import (
	"os"
	"testing"

	"github.com/crierhq/crier/internal/testpeers/postgres"
)

// TestMain stops the package's PostgreSQL when its tests end.
func TestMain(m *testing.M) { os.Exit(postgres.Main(m)) }
