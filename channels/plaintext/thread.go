package plaintext

import "fmt"

// Thread numbers the parts of a post split into a thread: split cuts the
// text assuming total parts (so it can leave room for "i/total"), starting
// from estimate and retried with the count it found until the count holds,
// and each part gets "i/n" on a line of its own. A split that still needs
// more than maxParts at maxParts is taken as it is (split shortens the last
// part). A single part needs no number.
func Thread(estimate, maxParts int, split func(total int) ([]string, error)) ([]string, error) {
	total := min(max(2, estimate), maxParts)
	for {
		texts, err := split(total)
		if err != nil {
			return nil, err
		}
		n := len(texts)
		if n <= total || n >= maxParts && total == maxParts {
			if n == 1 {
				return texts, nil
			}
			// Fewer parts than assumed: numbers with as many or fewer
			// digits only shorten the parts, so they stay in budget.
			for i := range texts {
				texts[i] = Join(texts[i], fmt.Sprintf("%d/%d", i+1, n))
			}
			return texts, nil
		}
		total = min(n, maxParts)
	}
}
