package console

import "net/http"

// question is what the console asks before an action that cannot be undone
// (or not by the person doing it): a page that names the consequences and
// repeats the form with confirm=yes, so that it works without JavaScript.
type question struct {
	Title        string
	Consequences []string
	// Action is the form's target; Fields its hidden fields, sent again.
	Action string
	Fields map[string]string
	// Button does it; Back (labelled BackLabel) leaves things as they are.
	Button, Back, BackLabel string
}

// confirmed reports whether the form was sent from the question's page.
func confirmed(r *http.Request) bool { return r.PostFormValue("confirm") == "yes" }

// askFirst shows the question instead of doing the action.
func (c *Console) askFirst(w http.ResponseWriter, r *http.Request, s Session, q question) {
	c.render(w, r, s, "confirm", map[string]any{"Q": q})
}
