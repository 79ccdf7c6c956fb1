package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/codexion/codexion/platform"
)

// DefaultFile is read when present and no other file is named.
const DefaultFile = "codexion.yaml"

// maxFileBytes bounds the config file; a larger one is a mistake, not a config.
const maxFileBytes = 1 << 20

// Source says where a setting's value came from.
type Source string

const (
	SourceDefault Source = "default"
	SourceFile    Source = "file"
	SourceEnv     Source = "env"
	SourceFlag    Source = "flag"
)

// Loaded is a configuration together with where each value came from.
type Loaded struct {
	Config  Config
	File    string            // the file read, empty when none
	Sources map[string]Source // by key path
}

// Options says where to look.
type Options struct {
	File         string              // explicit file; missing is an error. Empty: DefaultFile if present.
	Env          func(string) string // os.Getenv when nil
	Flags        *pflag.FlagSet      // flags registered by RegisterFlags; may be nil
	ReadSecretFn func(string) ([]byte, error)
}

// RegisterFlags adds one flag per setting to fs (--http.addr and so on).
func RegisterFlags(fs *pflag.FlagSet) {
	def := Default()
	for _, f := range Fields(&def) {
		help := f.Help
		if f.Secret {
			help += " (secret; prefer " + f.Env + " or " + f.Env + "_FILE)"
		}
		fs.String(f.Flag, "", help+" [env "+f.Env+"]")
	}
}

// Load builds the configuration: defaults, then the file, then the environment, then
// flags. Every error is a platform.Invalid naming the key and what to fix.
func Load(opts Options) (*Loaded, error) {
	getenv := opts.Env
	if getenv == nil {
		getenv = os.Getenv
	}
	readSecret := opts.ReadSecretFn
	if readSecret == nil {
		readSecret = os.ReadFile
	}
	l := &Loaded{Config: Default(), Sources: map[string]Source{}}
	fields := Fields(&l.Config)
	for _, f := range fields {
		l.Sources[f.Path] = SourceDefault
	}

	path := opts.File
	if path == "" {
		if p := getenv("CODEXION_CONFIG"); p != "" {
			path = p
		} else if _, err := os.Stat(DefaultFile); err == nil {
			path = DefaultFile
		}
	}
	if path != "" {
		data, err := ReadFile(path)
		if err != nil {
			return nil, err
		}
		if err := applyYAML(data, path, fields, l.Sources); err != nil {
			return nil, err
		}
		l.File = path
	}

	for _, f := range fields {
		if v := getenv(f.Env); v != "" {
			if err := f.Set(v); err != nil {
				return nil, platform.Invalid("%s (from %s): %v", f.Path, f.Env, err)
			}
			l.Sources[f.Path] = SourceEnv
		}
		if !f.Secret {
			continue
		}
		if file := getenv(f.Env + "_FILE"); file != "" {
			secret, err := readSecret(file)
			if err != nil {
				return nil, platform.Invalid("%s: cannot read secret file named by %s_FILE: %v", f.Path, f.Env, err)
			}
			if err := f.Set(strings.TrimRight(string(secret), "\r\n")); err != nil {
				return nil, platform.Invalid("%s (from %s_FILE): %v", f.Path, f.Env, err)
			}
			l.Sources[f.Path] = SourceEnv
		}
	}

	if opts.Flags != nil {
		for _, f := range fields {
			fl := opts.Flags.Lookup(f.Flag)
			if fl == nil || !fl.Changed {
				continue
			}
			if err := f.Set(fl.Value.String()); err != nil {
				return nil, platform.Invalid("%s (from --%s): %v", f.Path, f.Flag, err)
			}
			l.Sources[f.Path] = SourceFlag
		}
	}

	if err := l.Config.Validate(); err != nil {
		return nil, err
	}
	return l, nil
}

// ReadFile reads a config file within its size bound.
func ReadFile(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, platform.Invalid("config file %s does not exist", path)
		}
		return nil, platform.Invalid("config file %s: %v", path, err)
	}
	defer fh.Close()
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(fh, maxFileBytes+1))
	if err != nil {
		return nil, platform.Invalid("config file %s: %v", path, err)
	}
	if n > maxFileBytes {
		return nil, platform.Invalid("config file %s is larger than %d bytes", path, maxFileBytes)
	}
	return buf.Bytes(), nil
}

// applyYAML walks the document against the known keys so that an unknown key, a wrong
// shape or a bad value is reported with its line and the keys that would be accepted.
func applyYAML(data []byte, path string, fields []Field, sources map[string]Source) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return platform.Invalid("config file %s is not valid YAML: %v", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return nil // an empty file sets nothing
	}
	byPath := make(map[string]Field, len(fields))
	for _, f := range fields {
		byPath[f.Path] = f
	}
	return applyNode(doc.Content[0], "", path, byPath, sources)
}

func applyNode(n *yaml.Node, prefix, file string, byPath map[string]Field, sources map[string]Source) error {
	where := "the top level"
	if prefix != "" {
		where = prefix
	}
	if n.Kind != yaml.MappingNode {
		return platform.Invalid("%s line %d: %s must be a mapping of keys to values", file, n.Line, where)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		path := k.Value
		if prefix != "" {
			path = prefix + "." + k.Value
		}
		if f, ok := byPath[path]; ok {
			if err := setFromNode(f, v); err != nil {
				return platform.Invalid("%s line %d: %s: %v", file, v.Line, path, err)
			}
			sources[path] = SourceFile
			continue
		}
		if hasPrefix(byPath, path+".") {
			if err := applyNode(v, path, file, byPath, sources); err != nil {
				return err
			}
			continue
		}
		return platform.Invalid("%s line %d: unknown key %q in %s; known keys there: %s",
			file, k.Line, k.Value, where, strings.Join(childKeys(byPath, prefix), ", "))
	}
	return nil
}

func setFromNode(f Field, v *yaml.Node) error {
	switch v.Kind {
	case yaml.ScalarNode:
		if v.Tag == "!!null" {
			return nil
		}
		return f.Set(v.Value)
	case yaml.SequenceNode:
		if !f.IsList() {
			return fmt.Errorf("expected a single value, found a list")
		}
		items := make([]string, 0, len(v.Content))
		for _, item := range v.Content {
			if item.Kind != yaml.ScalarNode {
				return fmt.Errorf("list items must be plain values")
			}
			items = append(items, item.Value)
		}
		return f.SetList(items)
	default:
		return fmt.Errorf("expected a value, found a mapping")
	}
}

func hasPrefix(byPath map[string]Field, prefix string) bool {
	for p := range byPath {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	return false
}

func childKeys(byPath map[string]Field, prefix string) []string {
	seen := map[string]bool{}
	var keys []string
	for p := range byPath {
		rest := p
		if prefix != "" {
			if !strings.HasPrefix(p, prefix+".") {
				continue
			}
			rest = strings.TrimPrefix(p, prefix+".")
		}
		key, _, _ := strings.Cut(rest, ".")
		if !seen[key] {
			seen[key] = true
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	return keys
}
