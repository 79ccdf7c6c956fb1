// Package dev carries the dev-stack scripts inside the binary, so that `codexion dev`
// runs the same scripts as `make` does, wherever the binary is.
package dev

import (
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
)

//go:embed postgres.sh
var postgresScript []byte

//go:embed temporal.sh
var temporalScript []byte

// Install writes the scripts into dir (creating it) and returns the path of each by name.
func Install(dir string) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	paths := map[string]string{}
	for name, body := range map[string][]byte{"postgres.sh": postgresScript, "temporal.sh": temporalScript} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, body, 0o755); err != nil {
			return nil, fmt.Errorf("write %s: %w", p, err)
		}
		paths[name] = p
	}
	return paths, nil
}
