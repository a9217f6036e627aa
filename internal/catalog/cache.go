package catalog

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// DefaultCacheTTL is how long a catalog written by `burst catalog refresh`
// is preferred over the embedded snapshot. Prices and type lists change
// over weeks, not hours; after a month a refreshed catalog is as likely to
// mislead as the snapshot, and a newer burst carries a newer snapshot.
const DefaultCacheTTL = 30 * 24 * time.Hour

// CachePath is where the refreshed catalog of a provider lives in the cache
// directory.
func CachePath(dir, provider string) string {
	return filepath.Join(dir, "catalog", provider+".bin")
}

// SaveCache writes a provider's refreshed catalog to the cache directory,
// atomically. Types of other providers in c are not written.
func SaveCache(dir, provider string, c *Catalog) error {
	sub := &Catalog{Date: c.Date, Source: c.Source, Zones: c.Zones}
	for _, t := range c.Types {
		if t.Provider == provider {
			sub.Types = append(sub.Types, t)
		}
	}
	if len(sub.Types) == 0 {
		return fmt.Errorf("catalog: %s returned no machine types; the cache is left as it was", provider)
	}
	var buf bytes.Buffer
	if err := Encode(&buf, sub); err != nil {
		return err
	}
	path := CachePath(dir, provider)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("catalog cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("catalog cache: %w", err)
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("catalog cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("catalog cache: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}

// LoadCache reads a provider's cached catalog. It returns nil and no error
// when there is no cache; a corrupt file is an error, so the caller can say
// so and fall back to the snapshot.
func LoadCache(dir, provider string) (*Catalog, error) {
	b, err := os.ReadFile(CachePath(dir, provider))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("catalog cache: %w", err)
	}
	c, err := Decode(b)
	if err != nil {
		return nil, fmt.Errorf("catalog cache %s: %w", CachePath(dir, provider), err)
	}
	for _, t := range c.Types {
		if t.Provider != provider {
			return nil, fmt.Errorf("catalog cache %s: holds provider %q", CachePath(dir, provider), t.Provider)
		}
	}
	return c, nil
}

// Choice says which catalog a provider's plans use and why.
type Choice struct {
	Catalog *Catalog
	// Cached is true when the refreshed cache won over the snapshot.
	Cached bool
	// Note explains a fallback (a stale or broken cache), or is empty.
	Note string
}

// Load returns the catalog plans of a cloud provider use: the cache
// written by `burst catalog refresh` while it is younger than ttl and newer
// than the embedded snapshot, else the snapshot. It never touches the
// network.
func Load(dir, provider string, now time.Time, ttl time.Duration) (Choice, error) {
	emb, embErr := Embedded(provider)
	cached, err := LoadCache(dir, provider)
	var note string
	switch {
	case err != nil:
		note = err.Error() + "; using the embedded snapshot"
	case cached != nil && cached.Age(now) >= ttl:
		note = fmt.Sprintf("the refreshed %s catalog is %d days old; using the embedded snapshot (run burst catalog refresh --provider %s)", provider, int(cached.Age(now).Hours()/24), provider)
	case cached != nil && (embErr != nil || !cached.Date.Before(emb.Date)):
		return Choice{Catalog: cached, Cached: true}, nil
	}
	if embErr != nil {
		return Choice{}, embErr
	}
	return Choice{Catalog: emb, Note: note}, nil
}
