package server

import (
	"embed"

	"github.com/codexion/codexion/platform/postgres"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations is the feature store's migration source (its training-set jobs). It runs after
// the catalog's, whose last migration hands the jobs table over.
func Migrations() postgres.Source { return postgres.Embedded("features", migrations) }
