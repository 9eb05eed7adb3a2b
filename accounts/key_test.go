package accounts_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crierhq/crier/accounts"
)

func noEnv(string) (string, bool) { return "", false }

func TestLoadKeyCreatesFile0600OnFirstRunThenReadsIt(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	k1, src, err := accounts.LoadKey(noEnv, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !src.Created || src.File != filepath.Join(dir, accounts.KeyFileName) {
		t.Fatalf("source %+v, want a created key file", src)
	}
	info, err := os.Stat(src.File)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %04o, want 0600", info.Mode().Perm())
	}
	k2, src2, err := accounts.LoadKey(noEnv, dir)
	if err != nil {
		t.Fatal(err)
	}
	if src2.Created || k1.ID() != k2.ID() {
		t.Fatalf("second run: created=%v, same key=%v; want the file's key read back", src2.Created, k1.ID() == k2.ID())
	}
}

func TestLoadKeyRefusesAFileOthersCanRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, _, err := accounts.LoadKey(noEnv, dir); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, accounts.KeyFileName)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := accounts.LoadKey(noEnv, dir)
	if err == nil || !strings.Contains(err.Error(), "chmod 600 "+path) {
		t.Fatalf("err = %v, want a refusal naming chmod 600", err)
	}
}

func TestLoadKeyFromEnvironmentWinsAndIsChecked(t *testing.T) {
	t.Parallel()
	want, _ := accounts.NewKey()
	dir := t.TempDir()
	env := func(k string) (string, bool) {
		if k == accounts.EnvKey {
			return want.Encode(), true
		}
		return "", false
	}
	got, src, err := accounts.LoadKey(env, dir)
	if err != nil || !src.Env || got.ID() != want.ID() {
		t.Fatalf("got %v %+v %v, want the environment's key", got.ID() == want.ID(), src, err)
	}
	if _, err := os.Stat(filepath.Join(dir, accounts.KeyFileName)); !os.IsNotExist(err) {
		t.Fatalf("a key file was written although the environment gives the key: %v", err)
	}
	short := func(k string) (string, bool) { return "c2hvcnQ=", k == accounts.EnvKey }
	if _, _, err := accounts.LoadKey(short, dir); err == nil || !strings.Contains(err.Error(), "openssl rand -base64 32") {
		t.Fatalf("err = %v, want a short key refused with how to make one", err)
	}
}

func TestKeyNeverPrints(t *testing.T) {
	t.Parallel()
	k, _ := accounts.NewKey()
	for _, s := range []string{fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k)} {
		if strings.Contains(s, k.Encode()) || strings.Contains(s, k.Encode()[:10]) {
			t.Fatalf("the key printed: %q", s)
		}
	}
}
