package channels

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// PreviewFields writes a payload body for a person, as crier preview shows
// it: multi-line text as text, a field named html as its size (preview
// --html writes it to a file), everything else as key: value, indented by
// indent. Providers whose body reads well this way use it as their preview.
func PreviewFields(w io.Writer, body any, indent string) {
	js, err := json.Marshal(body)
	if err != nil {
		fmt.Fprintf(w, "%s(cannot show the payload: %v)\n", indent, err)
		return
	}
	var v any
	_ = json.Unmarshal(js, &v)
	previewValue(w, v, indent)
}

func previewValue(w io.Writer, v any, indent string) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			switch val := x[k].(type) {
			case string:
				switch {
				case k == "html":
					fmt.Fprintf(w, "%s%s: (%d bytes of HTML; --html FILE writes it)\n", indent, k, len(val))
				case strings.Contains(val, "\n"):
					fmt.Fprintf(w, "%s%s:\n", indent, k)
					for _, line := range strings.Split(strings.TrimRight(val, "\n"), "\n") {
						fmt.Fprintf(w, "%s  | %s\n", indent, line)
					}
				default:
					fmt.Fprintf(w, "%s%s: %s\n", indent, k, val)
				}
			case map[string]any, []any:
				fmt.Fprintf(w, "%s%s:\n", indent, k)
				previewValue(w, val, indent+"  ")
			default:
				b, _ := json.Marshal(val)
				fmt.Fprintf(w, "%s%s: %s\n", indent, k, b)
			}
		}
	case []any:
		for i, e := range x {
			fmt.Fprintf(w, "%s[%d]\n", indent, i+1)
			previewValue(w, e, indent+"  ")
		}
	default:
		b, _ := json.Marshal(x)
		fmt.Fprintf(w, "%s%s\n", indent, b)
	}
}
