package models

import (
	"path"
	"regexp"
	"strings"
	"unicode/utf8"
)

// validKey is MLflow's rule for metric, param and tag keys: letters, digits, underscores,
// dashes, periods, spaces, colons and slashes.
var validKey = regexp.MustCompile(`^[/\w.\- :]*$`)

// checkKey refuses a key MLflow refuses: empty, too long, other characters, or a path
// that is not its own normal form (keys name files in some artifact layouts).
func checkKey(field, kind, key string) error {
	switch {
	case key == "":
		return invalidField(field, "Missing value for required parameter '%s'", field)
	case len(key) > MaxEntityKeyBytes:
		return invalidField(field, "%s name %q is %d bytes; the limit is %d", kind, truncate(key), len(key), MaxEntityKeyBytes)
	case !utf8.ValidString(key) || !validKey.MatchString(key):
		return invalidField(field, "Invalid %s name: '%s'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/).", kind, truncate(key))
	case pathNotUnique(key):
		return invalidField(field, "Invalid %s name: '%s'. Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '%s'", kind, truncate(key), path.Clean(key))
	}
	return nil
}

func pathNotUnique(name string) bool {
	norm := path.Clean(name)
	return norm != name || norm == "." || strings.HasPrefix(norm, "..") || strings.HasPrefix(norm, "/")
}

// checkName refuses an empty or oversized name of an experiment or model.
func checkName(field, name string, maxBytes int) error {
	switch {
	case strings.TrimSpace(name) == "":
		return invalidField(field, "Missing value for required parameter '%s'", field)
	case len(name) > maxBytes:
		return invalidField(field, "%s is %d bytes; the limit is %d", field, len(name), maxBytes)
	case !utf8.ValidString(name) || strings.ContainsRune(name, 0):
		return invalidField(field, "%s must be valid UTF-8 text without NUL characters", field)
	}
	return nil
}

// checkValue refuses a value over its limit or that PostgreSQL cannot hold.
func checkValue(field, kind, key, value string, maxBytes int) error {
	switch {
	case len(value) > maxBytes:
		return invalidField(field, "%s '%s' had value length %d, which exceeded length limit of %d", kind, key, len(value), maxBytes)
	case !utf8.ValidString(value) || strings.ContainsRune(value, 0):
		return invalidField(field, "%s '%s' must be valid UTF-8 text without NUL characters", kind, key)
	}
	return nil
}

func checkTags(field string, tags []Tag, maxValueBytes int) error {
	for _, t := range tags {
		if err := checkKey(field, "tag", t.Key); err != nil {
			return err
		}
		if err := checkValue(field, "Tag", t.Key, t.Value, maxValueBytes); err != nil {
			return err
		}
	}
	return nil
}

func truncate(s string) string {
	const shown = 64
	if len(s) <= shown {
		return s
	}
	return s[:shown] + "…"
}

// artifactPrefix is where artifacts live in the bucket.
const artifactPrefix = "artifacts/"

// MaxArtifactPathBytes bounds an artifact's path.
const MaxArtifactPathBytes = 1024

// artifactKey maps an artifact path (what follows "mlflow-artifacts:/", or the proxied
// artifact API's path) to its object key, refusing any path that could name something
// outside the artifact root: parent segments, absolute or drive paths, backslashes,
// percent escapes (a path arrives decoded once; a second level of encoding is refused
// rather than decoded), and control characters.
func artifactKey(p string) (string, error) {
	p = strings.TrimPrefix(p, "/")
	switch {
	case p == "":
		return "", invalidField("path", "artifact path is empty")
	case len(p) > MaxArtifactPathBytes:
		return "", invalidField("path", "artifact path is %d bytes; the limit is %d", len(p), MaxArtifactPathBytes)
	case !utf8.ValidString(p):
		return "", invalidField("path", "artifact path must be valid UTF-8")
	case strings.HasPrefix(p, "/"):
		return "", invalidField("path", "Invalid path %q: absolute paths are not allowed", p)
	case strings.ContainsAny(p, "\\%"):
		return "", invalidField("path", "Invalid path %q: backslashes and percent escapes are not allowed in artifact paths", p)
	case len(p) >= 2 && p[1] == ':':
		return "", invalidField("path", "Invalid path %q: drive paths are not allowed", p)
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return "", invalidField("path", "Invalid path %q: control characters are not allowed", p)
		}
	}
	p = strings.TrimSuffix(p, "/")
	for seg := range strings.SplitSeq(p, "/") {
		if seg == ".." || seg == "." || seg == "" {
			return "", invalidField("path", "Invalid path %q: empty, '.' and '..' segments are not allowed", p)
		}
	}
	return artifactPrefix + p, nil
}
