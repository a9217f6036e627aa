package gcp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/uuid"
	"google.golang.org/api/googleapi"
	"google.golang.org/protobuf/proto"

	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/pkg/spec"
)

// KindFirewall is the Resource.Kind of a cluster's firewall rules, the
// only non-machine resources burst creates on GCE (boot disks go with
// their VMs: autoDelete).
const KindFirewall = "firewall"

var _ provider.Collector = (*Provider)(nil)

// Resources implements provider.Collector: burst's firewall rules, found
// with firewalls.list (every rule of the project, 500 a page) and
// recognised here, since rules carry no labels. A rule is burst's when its
// description starts with "burst-cluster=NAME" for a valid cluster NAME
// and the rule is named burst-NAME-internal, burst-NAME-client or
// burst-NAME-client6, as Prepare makes them; a rule that only looks similar (a user's
// "burst-..." rule, a description naming another cluster) is left out.
// CreatedAt is the rule's creationTimestamp.
//
// Firewall rules are global, so they are listed with an empty Region.
// When the filter limits the regions (and AllRegions is not set), a rule
// is listed only if its cluster has no machine outside those regions: the
// rules of a cluster running elsewhere are not this region's leftovers.
// That check is one instances.aggregatedList (per 500 machines).
func (p *Provider) Resources(ctx context.Context, f provider.Filter) ([]provider.Resource, error) {
	if err := p.init(ctx); err != nil {
		return nil, err
	}
	rules, err := p.firewallRules(ctx)
	if err != nil {
		return nil, err
	}
	var out []provider.Resource
	for _, fw := range rules {
		cluster, tags, ok := ruleOwner(fw.GetName(), fw.GetDescription())
		if !ok || f.Cluster != "" && cluster != f.Cluster {
			continue
		}
		r := provider.Resource{Kind: KindFirewall, ID: fw.GetName(), Name: fw.GetName(), Provider: Name, Cluster: cluster, Tags: tags}
		if t, err := time.Parse(time.RFC3339, fw.GetCreationTimestamp()); err == nil {
			r.CreatedAt = t
		} else {
			// GCE always sets it; if it could not be read, the rule counts
			// as new, so gc's grace keeps it rather than guessing it old.
			r.CreatedAt = p.opts.Now()
		}
		out = append(out, r)
	}
	if len(out) > 0 && len(f.Regions) > 0 && !f.AllRegions {
		filter := fmt.Sprintf("labels.%s:*", provider.TagCluster)
		if f.Cluster != "" {
			filter = fmt.Sprintf(`labels.%s = "%s"`, provider.TagCluster, f.Cluster)
		}
		ms, err := p.list(ctx, filter)
		if err != nil {
			return nil, err
		}
		elsewhere := map[string]bool{}
		for _, m := range ms {
			if !slices.Contains(f.Regions, m.Region) {
				elsewhere[m.Cluster] = true
			}
		}
		out = slices.DeleteFunc(out, func(r provider.Resource) bool { return elsewhere[r.Cluster] })
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// firewallRules lists every firewall rule of the project, one page per
// call. No server-side filter: GCE's two filter dialects treat wildcards
// differently, a project holds few rules, and which rules are burst's is
// decided by ruleOwner anyway.
func (p *Provider) firewallRules(ctx context.Context) ([]*computepb.Firewall, error) {
	var out []*computepb.Firewall
	token := ""
	for {
		var resp *computepb.FirewallList
		err := p.do(ctx, "firewalls.list", func(ctx context.Context) error {
			it := p.c.firewalls.List(ctx, &computepb.ListFirewallsRequest{Project: p.project}, noRetry)
			if _, _, err := it.InternalFetch(500, token); err != nil {
				return err
			}
			resp, _ = it.Response.(*computepb.FirewallList)
			return nil
		})
		if err != nil {
			return nil, err
		}
		if resp == nil {
			return out, nil
		}
		out = append(out, resp.GetItems()...)
		if token = resp.GetNextPageToken(); token == "" {
			return out, nil
		}
	}
}

// ruleOwner says whether a firewall rule is one Prepare made, and for
// which cluster. Prepare writes the description as
// "burst-cluster=NAME burst-owner=OWNER managed by burst: ...": the first
// word must be burst-cluster= with a valid cluster name, no other word
// may name a cluster, and the rule's name must be one Prepare derives
// from that cluster. tags are the description's burst-* words.
func ruleOwner(name, description string) (cluster string, tags map[string]string, ok bool) {
	if !strings.HasPrefix(name, "burst-") {
		return "", nil, false
	}
	words := strings.Fields(description)
	if len(words) == 0 {
		return "", nil, false
	}
	cluster, ok = strings.CutPrefix(words[0], provider.TagCluster+"=")
	if !ok || spec.ValidateName(cluster) != nil {
		return "", nil, false
	}
	if !slices.Contains(ruleNames(cluster), name) {
		return "", nil, false
	}
	tags = map[string]string{}
	for _, w := range words {
		k, v, found := strings.Cut(w, "=")
		if !found || !strings.HasPrefix(k, "burst-") {
			continue
		}
		if _, dup := tags[k]; dup {
			return "", nil, false // a second burst-cluster= (or any tag twice): not a description Prepare wrote
		}
		tags[k] = v
	}
	return cluster, tags, true
}

// DeleteResources implements provider.Collector: each firewall rule is
// one firewalls.delete, waited for. A rule already gone is not an error.
// A rule GCE will not delete yet (resourceNotReady: another operation on
// it is running, such as a concurrent `burst up` patching it;
// resourceInUseByAnotherResource) is retried with backoff until it goes or
// ctx ends. burst keeps no local file for a GCE cluster (no SSH key: see
// docs/design/gcp.md), so there is none to remove. Resources of another
// kind or provider are refused, and the others still deleted.
func (p *Provider) DeleteResources(ctx context.Context, rs []provider.Resource) error {
	if len(rs) == 0 {
		return nil
	}
	if err := p.init(ctx); err != nil {
		return err
	}
	var errs []error
	for _, r := range rs {
		if r.Kind != KindFirewall || r.Provider != "" && r.Provider != Name || !validName(r.ID) {
			errs = append(errs, provider.Errorf(provider.ErrInvalid, provider.ScopeProvider, "gcp: cannot delete %s %q of provider %q", r.Kind, r.ID, r.Provider))
			continue
		}
		if err := p.deleteFirewall(ctx, r.ID); err != nil {
			errs = append(errs, fmt.Errorf("firewall rule %s: %w", r.ID, err))
		}
	}
	return errors.Join(errs...)
}

// deleteFirewall deletes one rule and waits for the operation; gone
// already is success. Each try has its own requestId, kept across the
// transport retries of that try.
func (p *Provider) deleteFirewall(ctx context.Context, name string) error {
	backoff := time.Second
	for {
		rid := uuid.NewString()
		var op *computepb.Operation
		err := p.do(ctx, "firewalls.delete", func(ctx context.Context) error {
			started, err := p.c.firewalls.Delete(ctx, &computepb.DeleteFirewallRequest{Project: p.project, Firewall: name, RequestId: proto.String(rid)}, noRetry)
			if err == nil {
				op = started.Proto()
			}
			return err
		})
		if err == nil {
			err = p.finishGlobal(ctx, "firewalls.delete", op)
		}
		switch {
		case err == nil, errors.Is(err, provider.ErrNotFound):
			return nil
		case !notReady(err):
			return err
		}
		if serr := p.opts.Sleep(ctx, backoff); serr != nil {
			// The context's end is why this gave up; the last refusal
			// is only reported, so its kind does not classify the error.
			return fmt.Errorf("%w (still not deletable: %s)", serr, err.Error())
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// notReady reports whether GCE refused a delete because the resource is
// busy or still used, which passes.
func notReady(err error) bool {
	var pe *provider.Error
	if errors.As(err, &pe) && (pe.Code == "resourceNotReady" || pe.Code == "resourceInUseByAnotherResource") {
		return true
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		for _, e := range ge.Errors {
			if e.Reason == "resourceNotReady" || e.Reason == "resourceInUseByAnotherResource" {
				return true
			}
		}
	}
	// An operation that failed for it carries the code in its text.
	msg := err.Error()
	return strings.Contains(msg, "RESOURCE_NOT_READY") || strings.Contains(msg, "RESOURCE_IN_USE_BY_ANOTHER_RESOURCE")
}
