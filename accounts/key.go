// Package accounts provides the channel accounts organisers connect from the
// console, kept in the store so that every replica reads the same ones: per
// channel instance its non-secret settings, and its secrets sealed with
// AES-GCM under a key that never enters the database, with an audit trail of
// who connected, tested or disconnected what. A secret is readable only by
// the code that sends with it: nothing that lists or shows an account
// returns one, only when it was set.
package accounts

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// EnvKey names the environment variable that holds the key (base64 of 32
// bytes); when set it wins over the key file.
const EnvKey = "CRIER_SECRET_KEY"

// KeyFileName is the key file's name in the data folder.
const KeyFileName = "secret.key"

// Key is the 32-byte AES-256 key secrets are sealed with. Its String never
// shows it, so a key printed or logged by mistake stays secret.
type Key struct{ b [32]byte }

// String hides the key.
func (Key) String() string { return "[redacted]" }

// GoString hides the key from %#v too.
func (Key) GoString() string { return "accounts.Key{[redacted]}" }

// NewKey returns a fresh random key.
func NewKey() (Key, error) {
	var k Key
	if _, err := rand.Read(k.b[:]); err != nil {
		return Key{}, fmt.Errorf("making a secret key: %w", err)
	}
	return k, nil
}

// ParseKey reads a key written as base64 (standard or URL alphabet, padded
// or not) of exactly 32 bytes; where names it in the error.
func ParseKey(where, text string) (Key, error) {
	text = strings.TrimSpace(text)
	var raw []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err = enc.DecodeString(text); err == nil {
			break
		}
	}
	if err != nil || len(raw) != 32 {
		return Key{}, fmt.Errorf("%s: the secret key must be 32 random bytes in base64 (make one with: openssl rand -base64 32)", where)
	}
	var k Key
	copy(k.b[:], raw)
	return k, nil
}

// Encode writes the key as standard base64, the form ParseKey reads.
func (k Key) Encode() string { return base64.StdEncoding.EncodeToString(k.b[:]) }

// KeySource says where LoadKey found the key.
type KeySource struct {
	// Env is true when the key came from CRIER_SECRET_KEY.
	Env bool
	// File is the key file's path when it came from one.
	File string
	// Created is true when the key file was made by this call (first run).
	Created bool
}

// LoadKey returns the key from CRIER_SECRET_KEY (read with lookupEnv), else
// from dataDir/secret.key, which it creates with a fresh key and mode 0600
// on first run. A key file that others than its owner may read or write is
// refused: anyone who reads it reads every connected account's secrets.
func LoadKey(lookupEnv func(string) (string, bool), dataDir string) (Key, KeySource, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	if v, ok := lookupEnv(EnvKey); ok && strings.TrimSpace(v) != "" {
		k, err := ParseKey(EnvKey, v)
		return k, KeySource{Env: true}, err
	}
	path := filepath.Join(dataDir, KeyFileName)
	k, err := readKeyFile(path)
	if err == nil {
		return k, KeySource{File: path}, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return Key{}, KeySource{}, err
	}
	if k, err = NewKey(); err != nil {
		return Key{}, KeySource{}, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return Key{}, KeySource{}, fmt.Errorf("creating the data folder for the secret key: %w", err)
	}
	if err := writeKeyFile(path, k); err != nil {
		if errors.Is(err, fs.ErrExist) { // another replica made it first
			k, err = readWrittenKeyFile(path)
			return k, KeySource{File: path}, err
		}
		return Key{}, KeySource{}, err
	}
	return k, KeySource{File: path, Created: true}, nil
}

// readWrittenKeyFile reads a key file another process has just created,
// giving it a moment to finish writing: the file exists, empty, between its
// creation and its write.
func readWrittenKeyFile(path string) (Key, error) {
	var k Key
	var err error
	for range 50 {
		if k, err = readKeyFile(path); err == nil {
			return k, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return k, err
}

// readKeyFile reads a key file, refusing one open to others.
func readKeyFile(path string) (Key, error) {
	info, err := os.Stat(path)
	if err != nil {
		return Key{}, err
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return Key{}, fmt.Errorf("%s: the secret key file is readable or writable by others (mode %04o); run: chmod 600 %s", path, perm, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Key{}, fmt.Errorf("reading the secret key: %w", err)
	}
	return ParseKey(path, string(data))
}

// StageKeyFile writes k as the next key file (secret.key.new, mode 0600)
// before a rotation re-encrypts the secrets with it, so that the new key is
// on disk before any secret depends on it. It refuses to overwrite a staged
// key: one left behind by an interrupted rotation may be the key the
// secrets are sealed with now.
func StageKeyFile(dataDir string, k Key) error {
	if err := writeKeyFile(filepath.Join(dataDir, KeyFileName+".new"), k); err != nil {
		return fmt.Errorf("staging the new secret key: %w (a rotation was interrupted: see \"Rotating the key\" in docs/configuration.md)", err)
	}
	return nil
}

// CommitKeyFile makes the staged key the key file (after the secrets were
// re-encrypted with it), by a rename: a crash leaves one or the other.
func CommitKeyFile(dataDir string) error {
	path := filepath.Join(dataDir, KeyFileName)
	if err := os.Rename(path+".new", path); err != nil {
		return fmt.Errorf("installing the new secret key: %w (the secrets are already sealed with %s.new: rename it to %s)", err, path, path)
	}
	return nil
}

// DiscardKeyFile removes a staged key whose rotation failed (nothing was
// sealed with it).
func DiscardKeyFile(dataDir string) error {
	return os.Remove(filepath.Join(dataDir, KeyFileName+".new"))
}

// writeKeyFile creates path with k, mode 0600, never overwriting a file:
// two replicas starting at once on one data folder keep the first key.
func writeKeyFile(path string, k Key) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating the secret key file: %w", err)
	}
	_, err = f.WriteString(k.Encode() + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("creating the secret key file: %w", err)
	}
	return nil
}
