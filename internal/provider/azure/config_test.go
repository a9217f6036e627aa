package azure_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/burstdev/burst/internal/config"
	"github.com/burstdev/burst/internal/provider"
	"github.com/burstdev/burst/internal/provider/azure"
)

func TestOptionsFromConfig(t *testing.T) {
	cfg := &config.Config{DataDir: "/data", Azure: config.Azure{
		Subscription: " 1111 ", Endpoint: "http://127.0.0.1:9/", Locations: "eastus, westus2", CallerCIDR: "198.51.100.0/24",
		GPUImage: "a:b:c:d",
	}}
	o := azure.OptionsFromConfig(cfg, nil)
	if o.Subscription != "1111" || o.Endpoint != "http://127.0.0.1:9" || len(o.Locations) != 2 || o.Locations[1] != "westus2" ||
		o.CallerCIDR != "198.51.100.0/24" || o.Images.GPU != "a:b:c:d" || o.DataDir != "/data" {
		t.Errorf("options %+v", o)
	}
	if _, err := azure.New(azure.Options{Images: azure.Images{X86: "ubuntu"}}); !errors.Is(err, provider.ErrInvalid) {
		t.Errorf("a bad image URN: %v", err)
	}
}

// TestNewTouchesNothing: building the provider reads no file and calls no
// endpoint; the first operation does.
func TestNewTouchesNothing(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	reg := azure.Entry
	cfg := &config.Config{Azure: config.Azure{Endpoint: srv.URL}}
	p, err := reg.New(context.Background(), provider.Env{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if p.Name() != "azure" || hits.Load() != 0 {
		t.Fatalf("New made %d requests", hits.Load())
	}
}

func TestSubscription(t *testing.T) {
	dir := t.TempDir()
	profile := "\xef\xbb\xbf" + `{"installationId":"x","subscriptions":[
		{"id":"aaaa","name":"other","isDefault":false,"state":"Enabled"},
		{"id":"bbbb","name":"mine","isDefault":true,"state":"Enabled"}]}`
	if err := os.WriteFile(filepath.Join(dir, "azureProfile.json"), []byte(profile), 0o600); err != nil {
		t.Fatal(err)
	}
	var seen atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.URL.Path)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"value":[]}`))
	}))
	defer srv.Close()
	for _, tt := range []struct {
		name string
		opt  string
		env  map[string]string
		want string
	}{
		{"option", "opt-sub", map[string]string{"AZURE_SUBSCRIPTION_ID": "env-sub", "AZURE_CONFIG_DIR": dir}, "opt-sub"},
		{"env", "", map[string]string{"AZURE_SUBSCRIPTION_ID": "env-sub", "AZURE_CONFIG_DIR": dir}, "env-sub"},
		{"cli profile", "", map[string]string{"AZURE_CONFIG_DIR": dir}, "bbbb"},
		{"cli profile in HOME", "", map[string]string{"HOME": filepath.Dir(dir)}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := azure.New(azure.Options{Subscription: tt.opt, Endpoint: srv.URL, Getenv: func(k string) string { return tt.env[k] }})
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Machines(context.Background(), provider.Filter{})
			if tt.want == "" {
				if !errors.Is(err, provider.ErrAuth) || !strings.Contains(err.Error(), "az login") {
					t.Fatalf("no subscription: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := seen.Load().(string); !strings.HasPrefix(got, "/subscriptions/"+tt.want+"/") {
				t.Errorf("asked %s, want subscription %s", got, tt.want)
			}
		})
	}
}

type failingCred struct{}

func (failingCred) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, errors.New("DefaultAzureCredential: failed to acquire a token.\nAttempted credentials:\n\tEnvironmentCredential: missing AZURE_TENANT_ID\n\tAzureCLICredential: az not found")
}

// TestCredentialFailure: a credential that cannot get a token is ErrAuth
// (exit 4), naming what was tried.
func TestCredentialFailure(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a request reached ARM without a token: %s", r.URL)
	}))
	defer srv.Close()
	p, err := azure.New(azure.Options{Subscription: "s", Endpoint: "https://management.example.test", Credential: failingCred{},
		Transport: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Machines(context.Background(), provider.Filter{Cluster: "c"})
	var pe *provider.Error
	if !errors.As(err, &pe) || !errors.Is(pe.Kind, provider.ErrAuth) || pe.Scope != provider.ScopeProvider ||
		!strings.Contains(pe.Msg, "AzureCLICredential") || !strings.Contains(pe.Msg, "EnvironmentCredential") {
		t.Fatalf("credential failure: %v", err)
	}
}

func TestEndpointValidation(t *testing.T) {
	p, err := azure.New(azure.Options{Subscription: "s", Endpoint: "management.azure.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Machines(context.Background(), provider.Filter{}); !errors.Is(err, provider.ErrInvalid) {
		t.Fatalf("endpoint without a scheme: %v", err)
	}
}
