package console

import (
	"errors"
	"net/http"
)

func (c *Console) usersPage(w http.ResponseWriter, r *http.Request, s Session) {
	c.showUsers(w, r, s, "", "", http.StatusOK)
}

func (c *Console) showUsers(w http.ResponseWriter, r *http.Request, s Session, notice, problem string, status int) {
	users, err := c.opts.Users.List(r.Context())
	if err != nil {
		c.serverError(w, r, "listing users", err)
		return
	}
	invites, err := c.opts.Users.Invitations(r.Context())
	if err != nil {
		c.serverError(w, r, "listing invitations", err)
		return
	}
	w.WriteHeader(status)
	c.render(w, r, s, "users", map[string]any{"Users": users, "Invitations": invites, "Notice": notice, "Problem": problem,
		"Roles": []Role{RoleAuthor, RoleEditor, RoleOwner}, "CanMail": c.canMail(r.Context())})
}

func (c *Console) addUser(w http.ResponseWriter, r *http.Request, s Session) {
	if c.canMail(r.Context()) {
		// Nobody but the person should know their password: invite them.
		c.showUsers(w, r, s, "", "Invite people by mail: they choose their own password.", http.StatusUnprocessableEntity)
		return
	}
	email, role := r.PostFormValue("email"), Role(r.PostFormValue("role"))
	u, err := c.opts.Users.Add(r.Context(), email, role, r.PostFormValue("password"))
	if err != nil {
		if errors.Is(err, ErrUserExists) || !isInternal(err) {
			c.showUsers(w, r, s, "", err.Error(), http.StatusUnprocessableEntity)
			return
		}
		c.serverError(w, r, "adding the user", err)
		return
	}
	c.showUsers(w, r, s, "Added "+u.Email+" as "+string(u.Role)+". Give them the password in person or over a channel you trust.", "", http.StatusOK)
}

func (c *Console) removeUser(w http.ResponseWriter, r *http.Request, s Session) {
	email := addressKey(r.PostFormValue("email"))
	if email == addressKey(s.User.Email) {
		c.showUsers(w, r, s, "", "You cannot remove yourself; ask another owner.", http.StatusUnprocessableEntity)
		return
	}
	if !confirmed(r) {
		c.askFirst(w, r, s, question{
			Title: "Remove " + email + " from the console?",
			Consequences: []string{
				"They are signed out everywhere at once and can no longer sign in. The posts they wrote stay, with their name in the history.",
				"To let them in again, an owner adds them anew with a new password.",
			},
			Action: "/users/remove", Fields: map[string]string{"email": email},
			Button: "Yes, remove " + email, Back: "/users", BackLabel: "Keep " + email,
		})
		return
	}
	if err := c.opts.Users.Remove(r.Context(), email); err != nil {
		c.userRefused(w, r, s, "removing the user", err)
		return
	}
	c.showUsers(w, r, s, "Removed "+email+"; their sessions have ended.", "", http.StatusOK)
}

// setRole changes someone's role; the store keeps at least one owner.
func (c *Console) setRole(w http.ResponseWriter, r *http.Request, s Session) {
	email, role := addressKey(r.PostFormValue("email")), Role(r.PostFormValue("role"))
	if err := c.opts.Users.SetRole(r.Context(), email, role); err != nil {
		c.userRefused(w, r, s, "changing the role", err)
		return
	}
	if email == addressKey(s.User.Email) && role != RoleOwner {
		// No longer an owner: the users page is not theirs any more.
		http.Redirect(w, r, "/posts", http.StatusSeeOther)
		return
	}
	c.showUsers(w, r, s, email+" is now "+string(role)+".", "", http.StatusOK)
}

// userRefused shows a refusal the owner can act on, or a server error.
func (c *Console) userRefused(w http.ResponseWriter, r *http.Request, s Session, what string, err error) {
	if isInternal(err) {
		c.serverError(w, r, what, err)
		return
	}
	c.showUsers(w, r, s, "", err.Error(), http.StatusUnprocessableEntity)
}

// isInternal tells a database failure from a refusal the user can fix.
func isInternal(err error) bool {
	return errors.Is(err, errDatabase)
}

var errDatabase = errors.New("database error")
