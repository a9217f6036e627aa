package gcp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"

	"cloud.google.com/go/compute/apiv1/computepb"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/burstdev/burst/internal/bootstrap"
	"github.com/burstdev/burst/internal/provider"
)

// A cluster's network access is two firewall rules on the configured VPC
// network, both targeting the cluster's network tag:
//
//   - burst-<cluster>-internal allows all TCP, UDP and ICMP between the
//     cluster's machines (source tag = target tag);
//   - burst-<cluster>-client allows SSH and the Dask scheduler and
//     dashboard ports from the caller's address only (configured CIDRs, or
//     this machine's public address as IPDetectURL reports it). Never
//     0.0.0.0/0 unless configured so. GCE takes IPv4 or IPv6 ranges in a
//     rule, not both, so IPv6 ranges go in burst-<cluster>-client6.
//
// GCE firewall rules have no labels, so burst's tags go in the rule's
// description ("burst-cluster=etl burst-owner=ana") and its name.

// Prepare implements provider.Preparer. It is idempotent: rules that exist
// are left alone, or patched if the caller's address changed; a client
// rule of an address family the caller no longer uses is deleted, so an
// old address keeps no access.
//
// The calls are independent and run side by side: networks.get beside the
// address detection and the rules, and each rule (and the obsolete rule's
// delete) beside the others. No rule is written before the caller's
// address is known. The error returned is the first in the serial order:
// a missing network (with its clear ErrInvalid, though the rules' inserts
// fail too then), the address, then the rules in order, then the delete.
//
// The rules are read by the Preflight before (lookahead.go) when there was
// one within the minute: its answers stand in for Prepare's firewalls.get,
// and a rule it found missing needs no delete.
func (p *Provider) Prepare(ctx context.Context, req provider.PrepareRequest) error {
	if err := p.init(ctx); err != nil {
		return err
	}
	var (
		wg     sync.WaitGroup
		netErr error
	)
	wg.Go(func() { netErr = p.networkReady(ctx) })
	cidrs, err := p.caller(ctx)
	if err != nil {
		wg.Wait()
		if netErr != nil {
			return netErr
		}
		return err
	}
	ahead := p.takeRulesAhead(ctx, req.Cluster)
	v4, v6 := splitFamilies(cidrs)
	tag := NetworkTag(req.Cluster)
	desc := fmt.Sprintf("%s=%s %s=%s managed by burst", provider.TagCluster, req.Cluster, provider.TagOwner, labelText(ownerOf(req.Tags), false))
	network := "global/networks/" + p.opts.Network
	rules := []*computepb.Firewall{{
		Name: proto.String(internalRule(req.Cluster)), Description: proto.String(desc + ": traffic inside the cluster"),
		Network: proto.String(network), Direction: proto.String("INGRESS"), Priority: proto.Int32(1000),
		SourceTags: []string{tag}, TargetTags: []string{tag},
		Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp")}, {IPProtocol: proto.String("udp")}, {IPProtocol: proto.String("icmp")}},
	}}
	var unused []string
	for _, fam := range []struct {
		name   string
		ranges []string
	}{{clientRule(req.Cluster), v4}, {clientRule6(req.Cluster), v6}} {
		if len(fam.ranges) == 0 {
			// A rule the lookahead found missing needs no delete.
			if fw, known := ahead.rule(fam.name); !known || fw != nil {
				unused = append(unused, fam.name)
			}
			continue
		}
		rules = append(rules, &computepb.Firewall{
			Name: proto.String(fam.name), Description: proto.String(desc + ": SSH and Dask from the caller"),
			Network: proto.String(network), Direction: proto.String("INGRESS"), Priority: proto.Int32(1000),
			SourceRanges: fam.ranges, TargetTags: []string{tag},
			Allowed: []*computepb.Allowed{{IPProtocol: proto.String("tcp"),
				Ports: []string{"22", fmt.Sprint(bootstrap.SchedulerPort), fmt.Sprint(bootstrap.DashboardPort)}}},
		})
	}
	ruleErrs := make([]error, len(rules))
	for i, fw := range rules {
		cur, known := ahead.rule(fw.GetName())
		wg.Go(func() { ruleErrs[i] = p.ensureFirewall(ctx, fw, cur, known) })
	}
	var delErr error
	wg.Go(func() { delErr = p.deleteRules(ctx, unused) })
	wg.Wait()
	if netErr != nil {
		return netErr
	}
	for _, err := range ruleErrs {
		if err != nil {
			return err
		}
	}
	return delErr
}

// Independent implements provider.IndependentPreparer: GCE firewall rules
// pick the machines they apply to by network tag, and no instance names a
// rule, so a machine may be launched before its cluster's rules exist (a
// rule applies to running machines once created) and the rules may go
// while machines still run. The engine then prepares beside the head's
// launch and cleans up beside down's deletes. What Prepare must read
// before it writes (the network, the caller's address) Preflight reads
// first, so a bad network or address still stops up before anything is
// created.
func (p *Provider) Independent() bool { return true }

// Preflight reads what Prepare must know before it writes and leaves the
// answers for the next Prepare, which takes them (readAhead); a Prepare
// with none waiting reads them itself, so each run of up sees the network
// and the caller's address as they are then.

// readAhead reads the network and the caller's address for the next
// Prepare and returns their errors.
func (p *Provider) readAhead(ctx context.Context) (netErr, addrErr error) {
	var wg sync.WaitGroup
	wg.Go(func() {
		if netErr = p.checkNetwork(ctx); netErr == nil {
			p.mu.Lock()
			p.netOK = true
			p.mu.Unlock()
		}
	})
	cidrs, addrErr := p.callerCIDRs(ctx)
	wg.Wait()
	if addrErr == nil {
		p.mu.Lock()
		p.cidrs = cidrs
		p.mu.Unlock()
	}
	return netErr, addrErr
}

// networkReady is checkNetwork, unless a preflight just found the network.
func (p *Provider) networkReady(ctx context.Context) error {
	p.mu.Lock()
	ok := p.netOK
	p.netOK = false
	p.mu.Unlock()
	if ok {
		return nil
	}
	return p.checkNetwork(ctx)
}

// caller is callerCIDRs, unless a preflight just read them.
func (p *Provider) caller(ctx context.Context) ([]string, error) {
	p.mu.Lock()
	cidrs := p.cidrs
	p.cidrs = nil
	p.mu.Unlock()
	if cidrs != nil {
		return cidrs, nil
	}
	return p.callerCIDRs(ctx)
}

// checkNetwork makes sure the configured VPC network exists.
func (p *Provider) checkNetwork(ctx context.Context) error {
	err := p.do(ctx, "networks.get", func(ctx context.Context) error {
		_, err := p.c.networks.Get(ctx, &computepb.GetNetworkRequest{Project: p.project, Network: p.opts.Network}, noRetry)
		return err
	})
	if errors.Is(err, provider.ErrNotFound) {
		return &provider.Error{Kind: provider.ErrInvalid, Scope: provider.ScopeProvider, Op: "networks.get",
			Msg: fmt.Sprintf("VPC network %q does not exist in project %s; set gcp.network", p.opts.Network, p.project), Err: err}
	}
	return err
}

// splitFamilies separates IPv4 from IPv6 ranges.
func splitFamilies(cidrs []string) (v4, v6 []string) {
	for _, c := range cidrs {
		if ip, _, err := net.ParseCIDR(c); err == nil && ip.To4() != nil && !strings.Contains(c, ":") {
			v4 = append(v4, c)
		} else {
			v6 = append(v6, c)
		}
	}
	return v4, v6
}

// ensureFirewall creates a rule, or patches its source ranges if it exists
// with others. When known, cur is what a lookahead read of the rule found
// (nil: it did not exist) and the rule is not read again, unless the
// insert finds that it exists after all (someone made it since): then it
// is read and patched as if it had been there.
func (p *Provider) ensureFirewall(ctx context.Context, fw, cur *computepb.Firewall, known bool) error {
	var err error
	if !known {
		cur, err = p.getFirewall(ctx, fw.GetName())
	}
	switch {
	case err == nil && cur == nil, errors.Is(err, provider.ErrNotFound):
		err := p.insertFirewall(ctx, fw)
		if known && alreadyExists(err) {
			return p.ensureFirewall(ctx, fw, nil, false)
		}
		return err
	case err != nil:
		return err
	}
	want, have := slices.Clone(fw.GetSourceRanges()), slices.Clone(cur.GetSourceRanges())
	sort.Strings(want)
	sort.Strings(have)
	if slices.Equal(want, have) {
		return nil
	}
	var op *computepb.Operation
	err = p.do(ctx, "firewalls.patch", func(ctx context.Context) error {
		started, err := p.c.firewalls.Patch(ctx, &computepb.PatchFirewallRequest{Project: p.project, Firewall: fw.GetName(),
			FirewallResource: &computepb.Firewall{SourceRanges: fw.GetSourceRanges()}}, noRetry)
		if err == nil {
			op = started.Proto()
		}
		return err
	})
	if err != nil {
		return err
	}
	return p.finishGlobal(ctx, "firewalls.patch", op)
}

// insertFirewall creates a rule and waits for the operation.
func (p *Provider) insertFirewall(ctx context.Context, fw *computepb.Firewall) error {
	rid := uuid.NewString()
	var op *computepb.Operation
	err := p.do(ctx, "firewalls.insert", func(ctx context.Context) error {
		started, err := p.c.firewalls.Insert(ctx, &computepb.InsertFirewallRequest{Project: p.project, RequestId: proto.String(rid), FirewallResource: fw}, noRetry)
		if err == nil {
			op = started.Proto()
		}
		return err
	})
	if err != nil {
		return err
	}
	return p.finishGlobal(ctx, "firewalls.insert", op)
}

// alreadyExists reports whether GCE refused a create because the resource
// exists (409 alreadyExists), whether the call or its operation said so.
func alreadyExists(err error) bool {
	var pe *provider.Error
	if errors.As(err, &pe) && (pe.Code == "alreadyExists" || pe.Code == "RESOURCE_ALREADY_EXISTS") {
		return true
	}
	return err != nil && strings.Contains(err.Error(), "RESOURCE_ALREADY_EXISTS")
}

func (p *Provider) finishGlobal(ctx context.Context, name string, op *computepb.Operation) error {
	done, err := p.waitGlobal(ctx, op)
	if err != nil {
		return err
	}
	return operationError(name, done)
}

// Cleanup implements provider.Preparer: it deletes the cluster's firewall
// rules, side by side; rules already gone are fine, and a rule GCE calls
// not ready yet is retried until ctx ends. Firewalls are global, so
// regions do not matter.
func (p *Provider) Cleanup(ctx context.Context, cluster string, regions []string) error {
	if err := p.init(ctx); err != nil {
		return err
	}
	return p.deleteRules(ctx, ruleNames(cluster))
}

// deleteRules deletes firewall rules by name, side by side; gone already
// is fine. Errors come back in the order of names.
func (p *Provider) deleteRules(ctx context.Context, names []string) error {
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Go(func() {
			if err := p.deleteFirewall(ctx, name); err != nil {
				errs[i] = fmt.Errorf("firewall rule %s: %w", name, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// callerCIDRs returns the ranges allowed to reach SSH and Dask: the
// configured ones, else this machine's public address (a /32 or /128).
func (p *Provider) callerCIDRs(ctx context.Context) ([]string, error) {
	if len(p.opts.AllowedCIDRs) > 0 {
		var out []string
		for _, c := range p.opts.AllowedCIDRs {
			c = strings.TrimSpace(c)
			if ip := net.ParseIP(c); ip != nil {
				c = hostCIDR(ip)
			}
			if _, _, err := net.ParseCIDR(c); err != nil {
				return nil, &provider.Error{Kind: provider.ErrInvalid, Scope: provider.ScopeProvider, Op: "firewall", Msg: fmt.Sprintf("gcp.allowed_cidrs: %q is not a CIDR range", c)}
			}
			out = append(out, c)
		}
		return out, nil
	}
	fail := func(err error) error {
		return &provider.Error{Kind: provider.ErrInvalid, Scope: provider.ScopeProvider, Op: "firewall",
			Msg: fmt.Sprintf("cannot detect this machine's public address through %s (%v); set gcp.allowed_cidrs (BURST_GCP_ALLOWED_CIDRS)", p.opts.IPDetectURL, err), Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.opts.IPDetectURL, nil)
	if err != nil {
		return nil, fail(err)
	}
	resp, err := p.httpClient().Do(req)
	if err != nil {
		return nil, fail(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256))
	if err != nil {
		return nil, fail(err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fail(fmt.Errorf("HTTP %d", resp.StatusCode))
	}
	ip := net.ParseIP(strings.TrimSpace(string(body)))
	if ip == nil {
		return nil, fail(fmt.Errorf("the answer %q is not an IP address", strings.TrimSpace(string(body))))
	}
	return []string{hostCIDR(ip)}, nil
}

func hostCIDR(ip net.IP) string {
	if ip.To4() != nil {
		return ip.String() + "/32"
	}
	return ip.String() + "/128"
}
