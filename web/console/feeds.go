package console

import (
	"net/http"
)

type feedView struct {
	Name, URL, Schedule string
	LastPoll, Result    string
	OK                  bool
	NextPoll            string
}

func (c *Console) feeds(w http.ResponseWriter, r *http.Request, s Session) {
	var out []feedView
	for _, f := range c.opts.Feeds {
		st, err := c.opts.Store.Feed(r.Context(), f.Name)
		if err != nil {
			c.serverError(w, r, "reading the feeds", err)
			return
		}
		v := feedView{Name: f.Name, URL: f.URL, Schedule: f.Schedule, Result: "Not polled yet", NextPoll: "At the next start"}
		if st.LastPolled.Valid {
			v.LastPoll = c.showTime(st.LastPolled.Time)
			v.OK = st.LastError == ""
			v.Result = "Read without problems"
			if !v.OK {
				v.Result = st.LastError
			}
			if f.Next != nil {
				v.NextPoll = c.showTime(f.Next(st.LastPolled.Time))
			}
		}
		out = append(out, v)
	}
	c.render(w, r, s, "feeds", map[string]any{"Feeds": out})
}
