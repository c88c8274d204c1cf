package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"civic/internal/audit"
	"civic/internal/auth"
	"civic/internal/store"
)

// userCommand manages console users from the shell. It works whether or
// not the daemon is running: SQLite serialises the writers.
func userCommand(g globalFlags, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var role, display string
	var pwStdin bool
	pos, ok := parseSub("user", &g, args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&role, "role", "", "role of a new user: admin, official or facilities")
		fs.StringVar(&display, "display-name", "", "display name of a new user")
		fs.BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of standard input")
	})
	if !ok {
		return 2
	}
	usage := "usage: civicd user add NAME --role ROLE [--display-name NAME] [--password-stdin]\n       civicd user passwd NAME [--password-stdin]\n       civicd user list"
	if len(pos) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	cfg, err := loadConfig(g, environ)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.OpenShared(ctx, cfg.DataDir, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Fprintln(stderr, "civicd user:", err)
		return 1
	}
	defer st.Close()
	accounts := auth.New(st.DB(), auth.Options{})
	auditLog := audit.New(st.DB(), nil)
	actor := "cli"
	if u, err := user.Current(); err == nil {
		actor = "cli:" + u.Username
	}

	password := func() (string, bool, error) {
		if !pwStdin {
			return rand.Text(), true, nil
		}
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", false, fmt.Errorf("read password from stdin: %w", err)
		}
		return strings.TrimRight(line, "\r\n"), false, nil
	}

	switch {
	case pos[0] == "list" && len(pos) == 1:
		users, err := accounts.ListUsers(ctx)
		if err != nil {
			fmt.Fprintln(stderr, "civicd user list:", err)
			return 1
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSERNAME\tROLE\tDISPLAY NAME\tSTATUS\tCREATED")
		for _, u := range users {
			status := "enabled"
			if u.Disabled {
				status = "disabled"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Username, u.Role, u.DisplayName, status, u.CreatedAt.Format(time.RFC3339))
		}
		tw.Flush()
		return 0

	case pos[0] == "add" && len(pos) == 2:
		r, err := auth.ParseRole(role)
		if err != nil {
			fmt.Fprintln(stderr, "civicd user add: --role must be admin, official or facilities")
			return 2
		}
		pw, generated, err := password()
		if err != nil {
			fmt.Fprintln(stderr, "civicd user add:", err)
			return 1
		}
		u, err := accounts.CreateUser(ctx, auth.NewUser{Username: pos[1], DisplayName: display, Role: r, Password: pw})
		result, detail := audit.ResultOK, "role "+string(r)
		if err != nil {
			result, detail = audit.ResultFailed, err.Error()
		}
		if aerr := auditLog.Append(ctx, audit.Entry{User: actor, Role: "system", Action: "users.create", Target: pos[1], Result: result, Detail: detail}); aerr != nil {
			fmt.Fprintln(stderr, "civicd user add: audit:", aerr)
			return 1
		}
		if err != nil {
			fmt.Fprintln(stderr, "civicd user add:", err)
			return 1
		}
		fmt.Fprintf(stdout, "created user %s (%s)\n", u.Username, u.Role)
		if generated {
			fmt.Fprintf(stdout, "password: %s\n", pw)
		}
		return 0

	case pos[0] == "passwd" && len(pos) == 2:
		u, err := accounts.UserByName(ctx, pos[1])
		if err != nil {
			fmt.Fprintf(stderr, "civicd user passwd: no user %q\n", pos[1])
			return 1
		}
		pw, generated, err := password()
		if err != nil {
			fmt.Fprintln(stderr, "civicd user passwd:", err)
			return 1
		}
		err = accounts.SetPassword(ctx, u.ID, pw)
		result, detail := audit.ResultOK, "sessions ended"
		if err != nil {
			result, detail = audit.ResultFailed, err.Error()
		}
		if aerr := auditLog.Append(ctx, audit.Entry{User: actor, Role: "system", Action: "users.reset_password", Target: u.Username, Result: result, Detail: detail}); aerr != nil {
			fmt.Fprintln(stderr, "civicd user passwd: audit:", aerr)
			return 1
		}
		if err != nil {
			fmt.Fprintln(stderr, "civicd user passwd:", err)
			return 1
		}
		fmt.Fprintf(stdout, "password of %s changed; their sessions have ended\n", u.Username)
		if generated {
			fmt.Fprintf(stdout, "password: %s\n", pw)
		}
		return 0
	}
	fmt.Fprintln(stderr, usage)
	return 2
}
