package provider

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/burstdev/burst/internal/config"
)

// Env is what a provider constructor gets: the run's typed configuration and
// the injected clock.
type Env struct {
	Config *config.Config
	Now    func() time.Time
}

// Constructor builds a provider. It must not call the cloud: credentials and
// clients are resolved lazily, on first use, so `burst plan` or `--help`
// never touch the network.
type Constructor func(ctx context.Context, env Env) (Provider, error)

// Entry is one registered provider.
type Entry struct {
	Name        string
	Description string
	New         Constructor
	// Policy returns the least-privilege permissions burst needs on this
	// cloud (an IAM policy, a custom role), or nil if it needs none.
	Policy func() string
}

// Registry is the set of providers a burst binary knows. It is a value built
// in one place (package all), not filled by init side effects.
type Registry struct {
	entries map[string]Entry
}

// NewRegistry builds a registry from entries; a duplicate name panics, as it
// is a programming error.
func NewRegistry(entries ...Entry) *Registry {
	r := &Registry{entries: map[string]Entry{}}
	for _, e := range entries {
		if _, dup := r.entries[e.Name]; dup {
			panic("provider: duplicate registration of " + e.Name)
		}
		r.entries[e.Name] = e
	}
	return r
}

// Names lists the registered providers, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.entries))
	for n := range r.entries {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Lookup returns the entry for name.
func (r *Registry) Lookup(name string) (Entry, bool) {
	e, ok := r.entries[name]
	return e, ok
}

// UnknownError is an unknown provider name; the CLI maps it to exit 2.
type UnknownError struct {
	Name  string
	Known []string
}

func (e *UnknownError) Error() string {
	return fmt.Sprintf("unknown provider %q (want one of %s)", e.Name, strings.Join(e.Known, ", "))
}

// Check returns an *UnknownError if name is not registered.
func (r *Registry) Check(name string) error {
	if _, ok := r.entries[name]; !ok {
		return &UnknownError{Name: name, Known: r.Names()}
	}
	return nil
}

// New builds the provider called name.
func (r *Registry) New(ctx context.Context, name string, env Env) (Provider, error) {
	e, ok := r.entries[name]
	if !ok {
		return nil, &UnknownError{Name: name, Known: r.Names()}
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	return e.New(ctx, env)
}
