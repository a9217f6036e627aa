package aws

import (
	"context"
	"strings"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/time/rate"
)

// Bucket is a token bucket: Size tokens at most, refilled at Rate a second.
type Bucket struct {
	Size int
	Rate float64
}

// API families, as EC2 documents its request throttling. Request-rate
// families take one token per call; resource-rate families one token per
// instance launched or terminated.
const (
	FamilyDescribe          = "describe"            // Describe*, Get*: non-mutating
	FamilyMutate            = "mutate"              // Create*, Delete*, Authorize*, TerminateInstances, CreateFleet
	FamilyRunInstances      = "run-instances"       // RunInstances requests
	FamilyLaunchInstances   = "launch-instances"    // instances launched (CreateFleet, RunInstances)
	FamilyTerminateResource = "terminate-instances" // instances terminated
)

// DocumentedThrottles are EC2's documented default buckets per account and
// region (burst's design notes, DESIGN.md): Describe 100 burst, 20/s;
// mutating calls 50 burst, 5/s; RunInstances 5 burst, 2/s; instances
// launched 1000 burst, 2/s; instances terminated 1000 burst, 20/s.
var DocumentedThrottles = map[string]Bucket{
	FamilyDescribe:          {100, 20},
	FamilyMutate:            {50, 5},
	FamilyRunInstances:      {5, 2},
	FamilyLaunchInstances:   {1000, 2},
	FamilyTerminateResource: {1000, 20},
}

// limiters are one region's client-side buckets. They mirror EC2's so
// burst slows itself down before EC2 throttles it; the account's buckets
// are shared with every other client, so EC2 may still throttle, and the
// retryer handles that.
type limiters struct {
	by map[string]*rate.Limiter
}

// refillMargin slows the client-side refill below EC2's: both buckets
// refill continuously, but EC2 sees each call a little after burst took its
// token, so at an even pace its bucket can be a hair short. Ten per cent
// keeps a steady stream under the limit.
const refillMargin = 0.9

func newLimiters(bs map[string]Bucket) *limiters {
	l := &limiters{by: map[string]*rate.Limiter{}}
	for fam, b := range bs {
		l.by[fam] = rate.NewLimiter(rate.Limit(b.Rate*refillMargin), b.Size)
	}
	return l
}

func (p *Provider) limitersLocked(region string) *limiters {
	l, ok := p.limiters[region]
	if !ok {
		l = newLimiters(p.opts.Throttles)
		p.limiters[region] = l
	}
	return l
}

func (p *Provider) regionLimiters(region string) *limiters {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.limitersLocked(region)
}

// family returns the request-rate family of an EC2 operation.
func family(op string) string {
	switch {
	case op == "RunInstances":
		return FamilyRunInstances
	case strings.HasPrefix(op, "Describe"), strings.HasPrefix(op, "Get"):
		return FamilyDescribe
	}
	return FamilyMutate
}

// wait takes n tokens of a family, in pieces no larger than the bucket.
func (l *limiters) wait(ctx context.Context, fam string, n int) error {
	lim, ok := l.by[fam]
	if !ok || lim.Limit() == rate.Inf {
		return nil
	}
	for n > 0 {
		k := min(n, lim.Burst())
		if k <= 0 {
			return nil
		}
		if err := lim.WaitN(ctx, k); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// middleware adds the request-rate limiter to a client's stack after the
// retry middleware, so every attempt, retries included, takes a token.
func (l *limiters) middleware(stack *middleware.Stack) error {
	return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("BurstRateLimit",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			if err := l.wait(ctx, family(awsmiddleware.GetOperationName(ctx)), 1); err != nil {
				return middleware.FinalizeOutput{}, middleware.Metadata{}, err
			}
			return next.HandleFinalize(ctx, in)
		}), "Retry", middleware.After)
}
