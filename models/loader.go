package models

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/codexion/codexion/models/train"
	"github.com/codexion/codexion/platform"
)

// Flavors of MLmodel files Codexion scores.
const (
	FlavorCodexion = "codexion" // the model file of a Codexion trainer (model.json)
	FlavorXGBoost  = "xgboost"  // MLflow's xgboost flavor, saved as XGBoost JSON
)

// Bounds of what LoadModel reads.
const (
	maxMLmodelBytes   = 1 << 20
	MaxModelFileBytes = train.MaxXGBoostBytes
)

// LoadedModel is a version's model read from its artifacts (every byte checked against the
// digest recorded when it was stored), ready to score.
type LoadedModel struct {
	Name    string       `json:"name"`
	Version string       `json:"version"`
	Flavor  string       `json:"flavor"`
	File    string       `json:"file"`
	SHA256  string       `json:"sha256"`
	Model   *train.Model `json:"-"`
}

// mlmodel is the part of MLflow's MLmodel file that says how to load the model.
type mlmodel struct {
	Flavors   map[string]map[string]any `yaml:"flavors"`
	Signature struct {
		Inputs string `yaml:"inputs"`
	} `yaml:"signature"`
}

// LoadModel reads the model behind a version: its MLmodel file names the flavor and the file.
// Codexion scores its own trainers' models and XGBoost models saved as JSON (MLflow's xgboost
// flavor with model_format json); anything else is refused, naming what was found.
func (s *Store) LoadModel(ctx context.Context, name, version string) (LoadedModel, error) {
	loc, err := s.DownloadURI(ctx, name, version)
	if err != nil {
		return LoadedModel{}, err
	}
	dir, err := artifactDir(loc)
	if err != nil {
		return LoadedModel{}, CodeNotScorable.New("model %s version %s is stored at %s, outside Codexion's artifact store", name, version, loc)
	}
	raw, _, err := s.readArtifact(ctx, dir+"/MLmodel", maxMLmodelBytes)
	if err != nil {
		var pe *platform.Error
		if errors.As(err, &pe) && pe.Code == CodeArtifactNotFound.Code {
			return LoadedModel{}, CodeNotScorable.New("model %s version %s has no MLmodel file under %s: log the model with an MLflow flavor", name, version, loc)
		}
		return LoadedModel{}, err
	}
	var mm mlmodel
	if err := yaml.Unmarshal(raw, &mm); err != nil {
		return LoadedModel{}, CodeNotScorable.New("model %s version %s: its MLmodel file is not YAML: %v", name, version, err)
	}
	out := LoadedModel{Name: name, Version: version}
	file := func(flavor map[string]any, key, fallback string) (string, error) {
		f, _ := flavor[key].(string)
		if f == "" {
			f = fallback
		}
		clean := path.Clean(f)
		if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			return "", CodeNotScorable.New("model %s version %s: its MLmodel names the file %q, outside the model's folder", name, version, f)
		}
		return dir + "/" + clean, nil
	}
	switch {
	case mm.Flavors[FlavorCodexion] != nil:
		p, err := file(mm.Flavors[FlavorCodexion], "file", "model.json")
		if err != nil {
			return LoadedModel{}, err
		}
		body, sum, err := s.readArtifact(ctx, p, MaxModelFileBytes)
		if err != nil {
			return LoadedModel{}, err
		}
		var mf ModelFile
		if err := json.Unmarshal(body, &mf); err != nil {
			return LoadedModel{}, CodeNotScorable.New("model %s version %s: %s is not a Codexion model file: %v", name, version, p, err)
		}
		if err := mf.Model.Check(); err != nil {
			return LoadedModel{}, CodeNotScorable.New("model %s version %s: %v", name, version, err)
		}
		out.Flavor, out.File, out.SHA256, out.Model = FlavorCodexion, p, sum, &mf.Model
	case mm.Flavors[FlavorXGBoost] != nil:
		fl := mm.Flavors[FlavorXGBoost]
		if f, _ := fl["model_format"].(string); f != "" && f != "json" {
			return LoadedModel{}, CodeNotScorable.New("model %s version %s: the XGBoost model is saved as %q; Codexion reads XGBoost's JSON format: log it with mlflow.xgboost.log_model(..., model_format=\"json\")", name, version, f)
		}
		p, err := file(fl, "data", "model.json")
		if err != nil {
			return LoadedModel{}, err
		}
		body, sum, err := s.readArtifact(ctx, p, MaxModelFileBytes)
		if err != nil {
			return LoadedModel{}, err
		}
		m, err := train.ReadXGBoostJSON(bytes.NewReader(body), signatureNames(mm.Signature.Inputs))
		if err != nil {
			return LoadedModel{}, CodeNotScorable.New("model %s version %s: %v", name, version, err)
		}
		out.Flavor, out.File, out.SHA256, out.Model = FlavorXGBoost, p, sum, m
	default:
		var names []string
		for f := range mm.Flavors {
			names = append(names, f)
		}
		slices.Sort(names)
		return LoadedModel{}, CodeNotScorable.New("model %s version %s has flavors %v; Codexion scores the %s and %s (JSON) flavors", name, version, names, FlavorCodexion, FlavorXGBoost)
	}
	return out, nil
}

// signatureNames reads the column names of an MLflow signature's inputs (a JSON list of
// {"name", "type"}), or nil.
func signatureNames(inputs string) []string {
	var cols []struct {
		Name string `json:"name"`
	}
	if json.Unmarshal([]byte(inputs), &cols) != nil {
		return nil
	}
	var out []string
	for _, c := range cols {
		if c.Name == "" {
			return nil
		}
		out = append(out, c.Name)
	}
	return out
}

// readArtifact reads a whole artifact through its digest check, refusing one over limit.
func (s *Store) readArtifact(ctx context.Context, p string, limit int64) ([]byte, string, error) {
	f, err := s.OpenArtifact(ctx, p)
	if err != nil {
		return nil, "", err
	}
	defer func() { _ = f.Close() }()
	if f.SizeBytes > limit {
		return nil, "", CodeNotScorable.New("%s is %d bytes; the limit is %d", p, f.SizeBytes, limit)
	}
	body, err := io.ReadAll(f)
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", p, err)
	}
	return body, f.want, nil
}
