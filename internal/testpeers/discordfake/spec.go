package discordfake

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// spec is Discord's official OpenAPI 3.1 document (testdata/specs at the
// repository root), parsed once per test binary: parsing takes about half a
// second and the result is only read afterwards.
var spec = sync.OnceValues(func() (routers.Router, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return nil, fmt.Errorf("locating the Discord OpenAPI spec: no caller information")
	}
	path := filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "specs", "discord-openapi.json")
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validating %s: %w", path, err)
	}
	// The fake strips /api/v{9,10} itself; routes are matched on the rest.
	doc.Servers = nil
	r, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("routing %s: %w", path, err)
	}
	return r, nil
})
