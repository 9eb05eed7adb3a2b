package discordfake

import (
	"context"
	"fmt"
	"sync"

	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/crierhq/crier/internal/testpeers/openapispec"
)

// spec is Discord's official OpenAPI 3.1 document (testdata/specs at the
// repository root), parsed once per test binary: parsing takes about half a
// second and the result is only read afterwards.
var spec = sync.OnceValues(func() (routers.Router, error) {
	const name = "discord-openapi.json"
	doc, err := openapispec.Load(name)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validating %s: %w", name, err)
	}
	// The fake strips /api/v{9,10} itself; routes are matched on the rest.
	doc.Servers = nil
	r, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("routing %s: %w", name, err)
	}
	return r, nil
})
