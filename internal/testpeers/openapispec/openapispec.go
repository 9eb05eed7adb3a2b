// Package openapispec loads the OpenAPI descriptions in testdata/specs at
// the repository root, which the fake servers (discordfake, mastodonfake)
// check every request and answer against.
package openapispec

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"

	"github.com/getkin/kin-openapi/openapi3"
)

// Path returns the path of testdata/specs/name at the repository root,
// found from this source file so that tests in any package reach it.
func Path(name string) (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("locating testdata/specs: no caller information")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "specs", name), nil
}

// Load parses testdata/specs/name (e.g. "discord-openapi.json"). It does
// not validate the document: descriptions have known faults the caller
// fixes or tells the router to skip. Parsing a large description takes a
// noticeable fraction of a second, so callers load it once per test binary.
func Load(name string) (*openapi3.T, error) {
	path, err := Path(name)
	if err != nil {
		return nil, err
	}
	doc, err := openapi3.NewLoader().LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	return doc, nil
}
