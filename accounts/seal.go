package accounts

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// sealPrefix versions the sealed form, so that another cipher can come
// later without guessing.
const sealPrefix = "v1:"

// ErrWrongKey is returned when a secret cannot be opened with the key:
// another key sealed it, or the value was moved to another row or altered.
var ErrWrongKey = errors.New("a connected account's secret cannot be decrypted with this key")

// additional binds a sealed value to its row: a value copied to another
// instance or field does not open there.
func additional(instance, field string) []byte {
	return []byte("crier-accounts\x00" + instance + "\x00" + field)
}

func (k Key) aead() (cipher.AEAD, error) {
	block, err := aes.NewCipher(k.b[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// ID is a short fingerprint of the key (not the key, nor enough to find
// it), stored beside each secret so that a wrong key is named as such.
func (k Key) ID() string {
	m := hmac.New(sha256.New, k.b[:])
	m.Write([]byte("crier-accounts key id"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:9])
}

// seal encrypts plaintext for instance's field with a fresh random nonce.
func (k Key) seal(instance, field, plaintext string) (string, error) {
	gcm, err := k.aead()
	if err != nil {
		return "", err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("sealing a secret: %w", err)
	}
	out := gcm.Seal(nonce, nonce, []byte(plaintext), additional(instance, field))
	return sealPrefix + base64.StdEncoding.EncodeToString(out), nil
}

// open decrypts what seal made for the same instance and field.
func (k Key) open(instance, field, sealed string) (string, error) {
	rest, ok := strings.CutPrefix(sealed, sealPrefix)
	if !ok {
		return "", fmt.Errorf("%s's %s: stored in an unknown form", instance, field)
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return "", fmt.Errorf("%s's %s: stored in an unknown form", instance, field)
	}
	gcm, err := k.aead()
	if err != nil {
		return "", err
	}
	if len(raw) < gcm.NonceSize() {
		return "", fmt.Errorf("%s's %s: %w", instance, field, ErrWrongKey)
	}
	plain, err := gcm.Open(nil, raw[:gcm.NonceSize()], raw[gcm.NonceSize():], additional(instance, field))
	if err != nil {
		return "", fmt.Errorf("%s's %s: %w", instance, field, ErrWrongKey)
	}
	return string(plain), nil
}
