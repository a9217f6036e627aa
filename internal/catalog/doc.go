// Package catalog holds what can be launched: machine types with their
// offerings (region x zone x capacity type x price), for every provider.
//
// The catalog is pure data. It imports no SDK; providers fill it from their
// APIs (Provider.Catalog) and the planner reads it.
package catalog
