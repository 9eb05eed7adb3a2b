package graphapitest

import (
	"embed"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// specs are Meta's machine-readable Graph API specifications, vendored
// from facebook-business-sdk-codegen (testdata/api_specs/README.md).
//
//go:embed testdata/api_specs/*.json
var specs embed.FS

// nodeSpec is one node type's spec: its edges and methods (apis) and its
// fields.
type nodeSpec struct {
	APIs []struct {
		Method   string `json:"method"`
		Endpoint string `json:"endpoint"`
		Params   []struct {
			Name     string `json:"name"`
			Type     string `json:"type"`
			Required bool   `json:"required"`
		} `json:"params"`
	} `json:"apis"`
	Fields []struct {
		Name string `json:"name"`
	} `json:"fields"`
}

// loadSpec reads the vendored spec of a node type ("Page").
func loadSpec(node string) (nodeSpec, error) {
	raw, err := specs.ReadFile("testdata/api_specs/" + node + ".json")
	if err != nil {
		return nodeSpec{}, err
	}
	var s nodeSpec
	if err := json.Unmarshal(raw, &s); err != nil {
		return nodeSpec{}, fmt.Errorf("%s.json: %w", node, err)
	}
	return s, nil
}

// check reports what is wrong with a call of method on the node's edge
// ("" for the node itself) with params (besides uploads, which the specs
// do not list: files) and, for a GET, the fields asked for.
func (s nodeSpec) check(node, method, edge string, params map[string]string, files []string) []string {
	var bad []string
	for _, api := range s.APIs {
		if api.Method != method || api.Endpoint != edge {
			continue
		}
		known := map[string]string{}
		for _, p := range api.Params {
			known[p.Name] = p.Type
			if _, ok := params[p.Name]; p.Required && !ok {
				bad = append(bad, fmt.Sprintf("%s %s/%s: required parameter %s missing", method, node, edge, p.Name))
			}
		}
		for name, v := range params {
			if name == "fields" && method == "GET" {
				bad = append(bad, s.checkFields(node, edge, v)...)
				continue
			}
			typ, ok := known[name]
			if !ok {
				bad = append(bad, fmt.Sprintf("%s %s/%s: parameter %q is not in Meta's spec", method, node, edge, name))
				continue
			}
			if !typed(typ, v) {
				bad = append(bad, fmt.Sprintf("%s %s/%s: parameter %s=%q is not a %s", method, node, edge, name, v, typ))
			}
		}
		for _, f := range files {
			if f != "source" {
				bad = append(bad, fmt.Sprintf("%s %s/%s: file field %q: Meta takes an upload as source", method, node, edge, f))
			}
		}
		return bad
	}
	return []string{fmt.Sprintf("%s %s/%s is not in Meta's spec", method, node, edge)}
}

// checkFields checks a fields list of the node itself ("" edge): each
// name a field or an edge of the type. Subfields and modifiers
// (reactions.summary(total_count).limit(0), attachments{url}) name other
// types and are not checked.
func (s nodeSpec) checkFields(node, edge, list string) []string {
	if edge != "" {
		return nil // the edge's type is another spec
	}
	have := map[string]bool{}
	for _, f := range s.Fields {
		have[f.Name] = true
	}
	for _, a := range s.APIs {
		if a.Method == "GET" && a.Endpoint != "" {
			have[a.Endpoint] = true
		}
	}
	var bad []string
	for _, f := range splitFields(list) {
		if !have[f] {
			bad = append(bad, fmt.Sprintf("GET %s: field %q is not in Meta's spec", node, f))
		}
	}
	return bad
}

// splitFields returns the top-level names of a fields list.
func splitFields(list string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i <= len(list); i++ {
		if i < len(list) {
			switch list[i] {
			case '(', '{':
				depth++
				continue
			case ')', '}':
				depth--
				continue
			case ',':
				if depth > 0 {
					continue
				}
			default:
				continue
			}
		}
		f := list[start:i]
		if j := strings.IndexAny(f, ".{("); j >= 0 {
			f = f[:j]
		}
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
		start = i + 1
	}
	return out
}

// typed reports whether v is a value of the spec's type.
func typed(typ, v string) bool {
	switch typ {
	case "bool":
		return v == "true" || v == "false" || v == "1" || v == "0"
	case "int", "unsigned int":
		_, err := strconv.ParseInt(v, 10, 64)
		return err == nil
	case "float":
		_, err := strconv.ParseFloat(v, 64)
		return err == nil
	}
	return true
}
