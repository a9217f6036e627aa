package aws_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"

	"github.com/burstdev/burst/internal/cloudsim"
	simec2 "github.com/burstdev/burst/internal/cloudsim/ec2"
	"github.com/burstdev/burst/internal/plan"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/aws"
)

// models collects every simulator the tests ran, so TestMain can check the
// IAM policy against every action burst called.
var (
	modelsMu sync.Mutex
	models   []*cloudsim.Model
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 && !testing.Short() {
		modelsMu.Lock()
		ms := models
		modelsMu.Unlock()
		if missing := policyGaps(aws.Policy(), ms); len(missing) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL: actions called in the tests but missing from the IAM policy: %s\n", strings.Join(missing, ", "))
			code = 1
		}
	}
	os.Exit(code)
}

// policyGaps returns the logged actions (service:Action) absent from the
// policy. Calls the simulator did not know are left out.
func policyGaps(pol string, models []*cloudsim.Model) []string {
	seen := map[string]bool{}
	for _, m := range models {
		for _, r := range m.Requests() {
			if r.Action == "" || r.Code == "InvalidAction" || r.Code == "UnknownOperationException" {
				continue
			}
			seen[r.Service+":"+r.Action] = true
		}
	}
	var missing []string
	for a := range seen {
		if !strings.Contains(pol, `"`+a+`"`) {
			missing = append(missing, a)
		}
	}
	sort.Strings(missing)
	return missing
}

// env is one simulator and a provider wired to it over HTTP.
type env struct {
	t     *testing.T
	model *cloudsim.Model
	sim   *simec2.Server
	url   string
	p     *aws.Provider
	opts  aws.Options
	clock *cloudsim.Clock
	// wrap, if set, wraps the simulator's handler (to watch the wire).
	wrap func(http.Handler) http.Handler
}

type envOption func(*env, *cloudsim.Config)

// withClock drives the model and the provider from a manual clock.
func withClock(c *cloudsim.Clock) envOption {
	return func(e *env, cfg *cloudsim.Config) {
		e.clock = c
		cfg.Now, cfg.Sleep = c.Now, c.Sleep
		e.opts.Now = c.Now
		e.opts.Sleep = func(ctx context.Context, d time.Duration) error { c.Advance(d); return ctx.Err() }
	}
}

func withOptions(f func(*aws.Options)) envOption {
	return func(e *env, _ *cloudsim.Config) { f(&e.opts) }
}

// withHandler wraps the simulator's HTTP handler.
func withHandler(w func(http.Handler) http.Handler) envOption {
	return func(e *env, _ *cloudsim.Config) { e.wrap = w }
}

func withModel(f func(*cloudsim.Config)) envOption {
	return func(e *env, cfg *cloudsim.Config) { f(cfg) }
}

// awsEnv points the SDK at url with dummy credentials and no shared files
// or instance metadata, as a CI machine without AWS would be.
func awsEnv(t testing.TB, url string) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDBURSTTEST", "AWS_SECRET_ACCESS_KEY": "burst-test-secret", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "", "AWS_PROFILE": "", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_ENDPOINT_URL": url, "AWS_ENDPOINT_URL_EC2": "", "AWS_CONFIG_FILE": filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"), "AWS_WEB_IDENTITY_TOKEN_FILE": "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_CA_BUNDLE": "",
	} {
		t.Setenv(k, v)
	}
}

func newEnv(t *testing.T, options ...envOption) *env {
	t.Helper()
	e := &env{t: t, opts: aws.Options{
		AllowedCIDRs: []string{"203.0.113.7/32"}, DataDir: t.TempDir(), RetryMaxBackoff: time.Millisecond,
		CleanupPoll: 10 * time.Millisecond, CleanupTimeout: 5 * time.Second,
		// No client-side pacing: tests that need it set buckets.
		Throttles: map[string]aws.Bucket{},
		// The SDK warns when a test server closes kept-alive connections.
		ConfigOptions: []func(*config.LoadOptions) error{config.WithLogger(logging.Nop{})},
	}}
	// A millisecond per call: with none, a response can reach the SDK
	// before net/http's writer has finished with the request, and the
	// transport then sometimes drops the connection mid-response (the SDK
	// retries, which makes call counts flaky). Real endpoints are never
	// that fast; docs/design/aws.md has the details.
	cfg := cloudsim.Config{Latency: time.Millisecond}
	for _, o := range options {
		o(e, &cfg)
	}
	e.model = simec2.NewModel(cfg)
	e.sim = simec2.New(e.model)
	var h http.Handler = e.sim
	if e.wrap != nil {
		h = e.wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	awsEnv(t, srv.URL)
	e.p = aws.New(e.opts)
	modelsMu.Lock()
	models = append(models, e.model)
	modelsMu.Unlock()
	return e
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// setCapacity gives an offering's pool n more machines: a zoned offering's
// zone, or for a region-level one its first zone (the others none), so a
// fleet over every zone still finds exactly n.
func (e *env) setCapacity(o plan.Offering, n int) {
	zones := []string{o.Zone}
	if o.Zone == "" {
		zones = e.model.Zones(o.Region)
	}
	for i, z := range zones {
		k := cloudsim.PoolKey{Type: o.InstanceType, Zone: z, Capacity: string(o.Capacity)}
		if i == 0 {
			e.model.SetCapacity(k, n)
		} else {
			e.model.SetCapacity(k, 0)
		}
	}
}

var methodActions = map[string]string{"Launch": "CreateFleet", "Machines": "DescribeInstances", "Terminate": "TerminateInstances", "Catalog": "DescribeInstanceTypes"}

var kinds = map[error]cloudsim.Kind{
	provider.ErrNoCapacity: cloudsim.KindCapacity, provider.ErrQuota: cloudsim.KindQuota, provider.ErrThrottled: cloudsim.KindThrottle,
	provider.ErrAuth: cloudsim.KindAuth, provider.ErrInvalid: cloudsim.KindInvalid, provider.ErrNotFound: cloudsim.KindNotFound,
}

// fail makes the next call of a provider method fail with the EC2 error of
// kind; a throttle fails every retry of the call.
func (e *env) fail(method string, kind error) {
	times := 1
	if errors.Is(kind, provider.ErrThrottled) {
		times = 8
	}
	e.model.Inject(cloudsim.Fault{Kind: kinds[kind], Service: simec2.ServiceEC2, Action: methodActions[method], Times: times})
}

// count returns how many EC2 calls of action the sim logged, and how many
// of them failed with code.
func (e *env) count(action, code string) (all, failed int) {
	for _, r := range e.model.Requests() {
		if r.Action == action {
			all++
			if code != "" && r.Code == code {
				failed++
			}
		}
	}
	return all, failed
}

// offering returns a plan offering of an instance type of the sim.
func offering(region, typ string, capacity string) plan.Offering {
	for _, t := range simec2.Types() {
		if t.Name == typ {
			for _, o := range t.Offerings {
				if o.Region == region && string(o.Capacity) == capacity {
					return plan.Offering{Provider: aws.Name, Region: region, InstanceType: typ, VCPUs: t.VCPUs, MemoryGiB: t.MemoryGiB,
						GPUs: t.GPUs, GPUModel: t.GPUModel, Arch: t.Arch, Capacity: o.Capacity, Price: o.Price}
				}
			}
		}
	}
	panic("no offering " + typ)
}
