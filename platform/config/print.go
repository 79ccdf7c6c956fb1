package config

import (
	"fmt"
	"io"
	"net/url"
	"strings"
)

// Redacted is what a secret prints as.
const Redacted = "[redacted]"

// RedactValue hides a secret. A URL keeps its scheme, user and host so that people can
// still see where it points; only its password goes.
func RedactValue(s string) string {
	if s == "" {
		return ""
	}
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "REDACTED")
			return strings.Replace(u.String(), "REDACTED", Redacted, 1)
		}
		if u.User == nil && u.RawQuery == "" {
			return s
		}
	}
	return Redacted
}

// Print writes the effective configuration as YAML with secrets redacted. Each line
// carries a comment saying where the value came from.
func (l *Loaded) Print(w io.Writer) error {
	c := l.Config
	var section string
	for _, f := range Fields(&c) {
		parent, key := "", f.Path
		if i := strings.LastIndex(f.Path, "."); i >= 0 {
			parent, key = f.Path[:i], f.Path[i+1:]
		}
		indent := ""
		if parent != "" {
			indent = "  "
			if parent != section {
				if _, err := fmt.Fprintf(w, "%s:\n", parent); err != nil {
					return err
				}
				section = parent
			}
		}
		value := f.String()
		if f.Secret {
			value = RedactValue(value)
		}
		rendered := quote(value)
		if f.IsList() {
			items := []string{}
			if value != "" {
				items = strings.Split(value, ",")
			}
			for i := range items {
				items[i] = quote(items[i])
			}
			rendered = "[" + strings.Join(items, ", ") + "]"
		}
		src := l.Sources[f.Path]
		origin := string(src)
		switch src {
		case SourceEnv:
			origin = "env " + f.Env
		case SourceFile:
			origin = "file " + l.File
		case SourceFlag:
			origin = "flag --" + f.Flag
		}
		if _, err := fmt.Fprintf(w, "%s%s: %s  # %s\n", indent, key, rendered, origin); err != nil {
			return err
		}
	}
	return nil
}

func quote(s string) string { return fmt.Sprintf("%q", s) }
