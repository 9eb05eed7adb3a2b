// Package postgres starts a throwaway PostgreSQL for tests, once per package
// run, on a free 127.0.0.1 port in a temporary folder, and hands each test a
// database of its own (CREATE DATABASE), so tests run in parallel. With
// CRIER_POSTGRES_DSN set, the tests use that server instead. Tests skip when
// neither is available (fail when CRIER_REQUIRE_PEERS is set, as in CI).
//
// A package that uses it calls Main from its TestMain, which stops the
// server when the package's tests are done.
//
// The binaries (initdb, pg_ctl) are found through CRIER_POSTGRES_BIN (a
// folder), else PATH, else /usr/lib/postgresql/*/bin (Debian's
// `apt-get install postgresql`). PostgreSQL refuses to run as root: as root,
// the server runs as the `postgres` user through runuser.
package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/crierhq/crier/internal/testnet"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// EnvDSN names the variable that points the tests at an existing server
// (a superuser connection string; each test creates its database there).
const EnvDSN = "CRIER_POSTGRES_DSN"

const installHint = "PostgreSQL not found (apt-get install postgresql, or set CRIER_POSTGRES_BIN to the folder with initdb and pg_ctl, or CRIER_POSTGRES_DSN to a server)"

var (
	once    sync.Once
	server  *cluster
	failure error
	seq     atomic.Int64
)

type cluster struct {
	dir   string // data folder; "" when the server is not ours
	port  int
	bin   string
	admin string // DSN of the postgres database, as superuser
	root  bool   // the server runs as the postgres user
}

// Main runs the package's tests and then stops the server if one was
// started; call it from TestMain: os.Exit(postgres.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if server != nil {
		server.stop()
	}
	return code
}

// Available reports whether a server is (or can be) had, without skipping.
func Available() bool {
	return os.Getenv(EnvDSN) != "" || binDir() != ""
}

// DSN returns the connection string of a fresh, empty database for the
// test, dropped when it ends. It skips the test (fails it under
// CRIER_REQUIRE_PEERS) when PostgreSQL is not available.
func DSN(t testing.TB) string {
	t.Helper()
	once.Do(func() { server, failure = start() })
	if failure != nil {
		if os.Getenv("CRIER_REQUIRE_PEERS") != "" {
			t.Fatalf("CRIER_REQUIRE_PEERS is set but %v", failure)
		}
		t.Skip(failure.Error())
	}
	name := fmt.Sprintf("crier_test_%d_%d", os.Getpid(), seq.Add(1))
	admin, err := sql.Open("pgx", server.admin)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE DATABASE ` + name); err != nil {
		t.Fatalf("creating test database %s: %v", name, err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", server.admin)
		if err != nil {
			return
		}
		defer admin.Close()
		_, _ = admin.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`)
	})
	return withDatabase(server.admin, name)
}

// withDatabase replaces the database of a URL or key=value DSN.
func withDatabase(dsn, name string) string {
	if strings.Contains(dsn, "://") {
		i := strings.LastIndex(dsn, "/")
		rest := ""
		if q := strings.Index(dsn[i:], "?"); q >= 0 {
			rest = dsn[i+q:]
		}
		return dsn[:i+1] + name + rest
	}
	var kept []string
	for _, f := range strings.Fields(dsn) {
		if !strings.HasPrefix(f, "dbname=") {
			kept = append(kept, f)
		}
	}
	return strings.Join(append(kept, "dbname="+name), " ")
}

// binDir finds the folder holding initdb and pg_ctl.
func binDir() string {
	if d := os.Getenv("CRIER_POSTGRES_BIN"); d != "" {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "initdb")); err == nil {
			return filepath.Dir(p)
		}
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	sort.Strings(found)
	if len(found) > 0 {
		return filepath.Dir(found[len(found)-1])
	}
	return ""
}

func start() (*cluster, error) {
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return &cluster{admin: dsn}, nil
	}
	bin := binDir()
	if bin == "" {
		return nil, fmt.Errorf("%s", installHint)
	}
	dir, err := os.MkdirTemp("", "crier-postgres-")
	if err != nil {
		return nil, err
	}
	c := &cluster{dir: dir, bin: bin, root: os.Geteuid() == 0}
	if c.root {
		// The server's user must reach and own its folder.
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
		if out, err := exec.Command("chown", "postgres:", dir).CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("PostgreSQL refuses to run as root and chown to the postgres user failed: %v: %s", err, out)
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := c.run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	port, err := testnet.Port()
	if err != nil {
		return nil, err
	}
	c.port = port
	// The watchdog first: a process killed while the server starts must
	// not leave it behind either.
	c.watch()
	if err := c.startServer(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	c.admin = "postgres://postgres@127.0.0.1:" + strconv.Itoa(port) + "/postgres?sslmode=disable"
	db, err := sql.Open("pgx", c.admin)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err = db.PingContext(ctx)
		cancel()
		db.Close()
	}
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("PostgreSQL started but does not answer: %w", err)
	}
	return c, nil
}

// run runs a PostgreSQL program, as the postgres user when we are root,
// from / (a folder that user can read).
func (c *cluster) run(prog string, args ...string) ([]byte, error) {
	path := filepath.Join(c.bin, prog)
	var cmd *exec.Cmd
	if c.root {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = "/"
	return cmd.CombinedOutput()
}

// startServer starts the server of an initialised data folder.
func (c *cluster) startServer() error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300", c.port, c.dir)
	if out, err := c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-o", opts, "-l", filepath.Join(c.dir, "log"), "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		return fmt.Errorf("starting PostgreSQL: %v: %s\n%s", err, out, log)
	}
	return nil
}

// watch starts a watchdog that stops the server and removes its folder
// once this test process is gone: pg_ctl detaches the server, so a test
// binary that panics, times out or is killed (or a package without
// TestMain calling Main) would otherwise leave it running.
func (c *cluster) watch() {
	pgctl := filepath.Join(c.bin, "pg_ctl")
	stop := fmt.Sprintf("%q -D %q -m immediate -w stop", pgctl, filepath.Join(c.dir, "data"))
	if c.root {
		stop = fmt.Sprintf("(cd / && runuser -u postgres -- %s)", stop)
	}
	script := fmt.Sprintf("while kill -0 %d 2>/dev/null; do sleep 1; done; %s >/dev/null 2>&1; rm -rf %q", os.Getpid(), stop, c.dir)
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err == nil {
		go func() { _ = cmd.Wait() }()
	}
}

func (c *cluster) stop() {
	if c.dir == "" {
		return
	}
	_, _ = c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "stop")
	os.RemoveAll(c.dir)
}

// Driver is one database the table-of-drivers tests run on.
type Driver struct {
	// Name is "sqlite" or "postgres", as store.driver says.
	Name string
	// Target returns where the test's own fresh database is: a file path
	// for SQLite, a DSN for PostgreSQL (skipping the test when it has
	// none).
	Target func(t testing.TB) string
}

// Drivers is the table of databases every store test runs against.
var Drivers = []Driver{
	{Name: "sqlite", Target: func(t testing.TB) string { return filepath.Join(t.TempDir(), "crier.db") }},
	{Name: "postgres", Target: DSN},
}

// Each runs fn as a parallel subtest per driver.
func Each(t *testing.T, fn func(t *testing.T, driver, target string)) {
	t.Helper()
	for _, d := range Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, d.Name, d.Target(t))
		})
	}
}

// EachDriver runs fn as a parallel subtest per driver; fn makes its
// databases with Target (a test may need several).
func EachDriver(t *testing.T, fn func(t *testing.T, driver string)) {
	t.Helper()
	for _, d := range Drivers {
		t.Run(d.Name, func(t *testing.T) {
			t.Parallel()
			fn(t, d.Name)
		})
	}
}

// Target returns a fresh database of driver for the test (see Driver).
func Target(t testing.TB, driver string) string {
	for _, d := range Drivers {
		if d.Name == driver {
			return d.Target(t)
		}
	}
	t.Fatalf("unknown test driver %q", driver)
	return ""
}

// Server is a PostgreSQL of the test's own, for tests that stop and start
// it (a database outage); other tests share the package's server.
type Server struct{ c *cluster }

// StartServer starts a server for the test alone, stopped when it ends; it
// skips (fails under CRIER_REQUIRE_PEERS) without the binaries. It cannot use
// CRIER_POSTGRES_DSN: an outage of a shared server would break other tests.
func StartServer(t testing.TB) *Server {
	t.Helper()
	if binDir() == "" {
		if os.Getenv("CRIER_REQUIRE_PEERS") != "" {
			t.Fatal("CRIER_REQUIRE_PEERS is set but " + installHint)
		}
		t.Skip(installHint)
	}
	c, err := start()
	if err != nil {
		t.Fatal(err)
	}
	if c.dir == "" { // CRIER_POSTGRES_DSN is set: start our own anyway
		t.Skip("the outage test needs its own server (initdb, pg_ctl), not CRIER_POSTGRES_DSN")
	}
	t.Cleanup(c.stop)
	return &Server{c: c}
}

// DSN is the connection string of the server's postgres database.
func (s *Server) DSN() string { return s.c.admin }

// Stop stops the server at once (connections are cut), keeping its data.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if out, err := s.c.run("pg_ctl", "-D", filepath.Join(s.c.dir, "data"), "-m", "immediate", "-w", "stop"); err != nil {
		t.Fatalf("stopping PostgreSQL: %v: %s", err, out)
	}
}

// Start starts the stopped server again on the same port.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	if err := s.c.startServer(); err != nil {
		t.Fatal(err)
	}
}
