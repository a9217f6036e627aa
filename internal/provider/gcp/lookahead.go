package gcp

import (
	"context"
	"errors"
	"sync"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/burstdev/burst/internal/provider"
)

// lookaheadTTL is how long a lookahead's answers stay good for Prepare;
// older ones are read again.
const lookaheadTTL = time.Minute

// rulesAhead holds the firewalls.get of a cluster's rules, started by
// Preflight so that they run beside its own reads instead of after them
// (Prepare's chain is get, then insert, then the operation's wait, and
// the workers' launch waits for it). Preflight does not wait for them.
// They are only reads: a failed or stale one costs Prepare nothing but
// reading the rule itself, and a rule someone else made or deleted
// meanwhile is met as a concurrent change after Prepare's own read would
// be (an insert that finds the rule already there reads it again and
// patches it if need be).
type rulesAhead struct {
	done    chan struct{}
	started time.Time
	// Set once done closes: each rule read, by name; nil for a rule GCE
	// said does not exist. A name missing from the map was not read.
	rules map[string]*computepb.Firewall
}

// startRulesAhead starts reading a cluster's firewall rules, unless a
// fresh read of them runs already.
func (p *Provider) startRulesAhead(ctx context.Context, cluster string) {
	if cluster == "" {
		return
	}
	p.mu.Lock()
	if la, ok := p.ahead[cluster]; ok && p.opts.Now().Sub(la.started) < lookaheadTTL {
		p.mu.Unlock()
		return
	}
	la := &rulesAhead{done: make(chan struct{}), started: p.opts.Now(), rules: map[string]*computepb.Firewall{}}
	if p.ahead == nil {
		p.ahead = map[string]*rulesAhead{}
	}
	p.ahead[cluster] = la
	p.mu.Unlock()
	// The reads outlive the preflight that starts them (its context ends
	// when it answers), but not a minute.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lookaheadTTL)
	go func() {
		defer cancel()
		defer close(la.done)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, name := range ruleNames(cluster) {
			wg.Go(func() {
				fw, err := p.getFirewall(ctx, name)
				if err != nil && !errors.Is(err, provider.ErrNotFound) {
					return
				}
				mu.Lock()
				la.rules[name] = fw
				mu.Unlock()
			})
		}
		wg.Wait()
	}()
}

// takeRulesAhead waits for the read of a cluster's rules, if one was
// started and is fresh, and hands it over (it is used once). It returns
// nil when there is none to use.
func (p *Provider) takeRulesAhead(ctx context.Context, cluster string) *rulesAhead {
	p.mu.Lock()
	la, ok := p.ahead[cluster]
	delete(p.ahead, cluster)
	p.mu.Unlock()
	if !ok || p.opts.Now().Sub(la.started) >= lookaheadTTL {
		return nil
	}
	select {
	case <-la.done:
		return la
	case <-ctx.Done():
		return nil
	}
}

// rule returns what the lookahead read of a rule: the rule, nil if it did
// not exist; known is false when it could not say.
func (la *rulesAhead) rule(name string) (fw *computepb.Firewall, known bool) {
	if la == nil {
		return nil, false
	}
	fw, known = la.rules[name]
	return fw, known
}

// getFirewall is one firewalls.get.
func (p *Provider) getFirewall(ctx context.Context, name string) (*computepb.Firewall, error) {
	var fw *computepb.Firewall
	err := p.do(ctx, "firewalls.get", func(ctx context.Context) (err error) {
		fw, err = p.c.firewalls.Get(ctx, &computepb.GetFirewallRequest{Project: p.project, Firewall: name}, noRetry)
		return err
	})
	if err != nil {
		return nil, err
	}
	return fw, nil
}
