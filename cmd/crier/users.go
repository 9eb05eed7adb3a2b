package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/crierhq/crier/web/console"
)

func cmdUsers(ctx context.Context, app *App, args []string) error {
	usage := "usage: crier users add EMAIL --role owner|editor|author [--password-stdin] | list | remove EMAIL | set-role EMAIL --role owner|editor|author | reset-password EMAIL [--password-stdin]"
	if len(args) == 0 {
		return usageError{usage}
	}
	if wantsHelp(args[:1]) {
		fmt.Fprintln(app.Stderr, "Usage: crier users add EMAIL --role owner|editor|author [--password-stdin]\n       crier users list\n       crier users remove EMAIL\n       crier users set-role EMAIL --role owner|editor|author\n       crier users reset-password EMAIL [--password-stdin]")
		fmt.Fprintln(app.Stderr, `
The people who sign in to the console at http.public_url. An author writes
drafts and submits them for review; an editor also approves, schedules,
publishes, cancels and retries; an owner also manages users. The password is
asked on the terminal, or read from the first line of standard input with
--password-stdin (at least 12 characters). The last owner can be neither
removed nor given another role: make someone else an owner first.`)
		return nil
	}
	st, err := app.OpenStore(ctx)
	if err != nil {
		return err
	}
	users, err := console.OpenUsers(ctx, st.DB(), console.UsersOptions{})
	if err != nil {
		return err
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "add":
		fs := newFlagSet(app, "users add", "EMAIL --role owner|editor|author [--password-stdin]", "Adds a console user.")
		role := fs.String("role", "", "owner, editor or author")
		stdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
		pos, err := parseArgs(fs, rest)
		if err != nil {
			return err
		}
		if len(pos) != 1 || *role == "" {
			return usageError{"give one EMAIL and --role owner|editor|author"}
		}
		if !console.Role(*role).Valid() {
			return usageError{fmt.Sprintf("--role %q: expected owner, editor or author", *role)}
		}
		pw, err := app.readPassword(*stdin)
		if err != nil {
			return err
		}
		u, err := users.Add(ctx, pos[0], console.Role(*role), pw)
		if err != nil {
			return err
		}
		fmt.Fprintf(app.Stdout, "Added %s (%s). They sign in at %s/login\n", u.Email, u.Role, strings.TrimRight(app.Config.HTTP.PublicURL, "/"))
		return nil
	case "list":
		list, err := users.List(ctx)
		if err != nil {
			return err
		}
		if len(list) == 0 {
			fmt.Fprintln(app.Stdout, "No users yet. Create the first owner with: crier users add EMAIL --role owner")
			return nil
		}
		for _, u := range list {
			fmt.Fprintf(app.Stdout, "%-40s %-7s since %s\n", u.Email, u.Role, app.showTime(u.CreatedAt))
		}
		return nil
	case "remove":
		if len(rest) != 1 {
			return usageError{"usage: crier users remove EMAIL"}
		}
		if err := users.Remove(ctx, rest[0]); err != nil {
			return fmt.Errorf("removing %s: %w", rest[0], err)
		}
		fmt.Fprintf(app.Stdout, "Removed %s and ended their sessions.\n", rest[0])
		return nil
	case "set-role":
		fs := newFlagSet(app, "users set-role", "EMAIL --role owner|editor|author", "Changes a user's role (never the last owner's).")
		role := fs.String("role", "", "owner, editor or author")
		pos, err := parseArgs(fs, rest)
		if err != nil {
			return err
		}
		if len(pos) != 1 || !console.Role(*role).Valid() {
			return usageError{"usage: crier users set-role EMAIL --role owner|editor|author"}
		}
		if err := users.SetRole(ctx, pos[0], console.Role(*role)); err != nil {
			return fmt.Errorf("changing the role of %s: %w", pos[0], err)
		}
		fmt.Fprintf(app.Stdout, "%s is now %s.\n", pos[0], *role)
		return nil
	case "reset-password":
		fs := newFlagSet(app, "users reset-password", "EMAIL [--password-stdin]", "Sets a new password and signs the user out everywhere.")
		stdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
		pos, err := parseArgs(fs, rest)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageError{"usage: crier users reset-password EMAIL [--password-stdin]"}
		}
		pw, err := app.readPassword(*stdin)
		if err != nil {
			return err
		}
		if err := users.SetPassword(ctx, pos[0], pw); err != nil {
			return fmt.Errorf("resetting the password of %s: %w", pos[0], err)
		}
		fmt.Fprintf(app.Stdout, "New password set for %s; their sessions have ended.\n", pos[0])
		return nil
	}
	return usageError{fmt.Sprintf("unknown subcommand %q; %s", sub, usage)}
}

// readPassword reads a new password from standard input (the first line) or,
// on a terminal, asks for it twice without echo.
func (app *App) readPassword(fromStdin bool) (string, error) {
	if fromStdin {
		in := app.Stdin
		if in == nil {
			in = os.Stdin
		}
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading the password from standard input: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", errors.New("standard input was empty: give the password on its first line")
		}
		return pw, console.CheckPassword(pw)
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return "", usageError{"standard input is not a terminal: use --password-stdin and give the password on its first line"}
	}
	fmt.Fprint(app.Stderr, "Password (at least 12 characters): ")
	a, err := term.ReadPassword(fd)
	fmt.Fprintln(app.Stderr)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	if err := console.CheckPassword(string(a)); err != nil {
		return "", err
	}
	fmt.Fprint(app.Stderr, "Again: ")
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(app.Stderr)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	if string(a) != string(b) {
		return "", errors.New("the two passwords differ")
	}
	return string(a), nil
}
