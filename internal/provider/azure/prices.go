package azure

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// sizePrice is a size's Linux price in a location, USD per hour.
type sizePrice struct{ onDemand, spot float64 }

// maxPricePages bounds one location's paging through the Retail Prices API
// (a location has a few thousand VM meters, 1000 a page).
const maxPricePages = 200

// pricesBase is the Retail Prices API's base URL: the configured one, the
// simulator's when the ARM endpoint is a simulator, else Azure's.
func (p *Provider) pricesBase() string {
	switch {
	case p.opts.PricesEndpoint != "":
		return p.opts.PricesEndpoint
	case p.sim:
		return p.opts.Endpoint
	}
	return "https://prices.azure.com"
}

type priceItem struct {
	CurrencyCode  string  `json:"currencyCode"`
	RetailPrice   float64 `json:"retailPrice"`
	ArmRegionName string  `json:"armRegionName"`
	ArmSkuName    string  `json:"armSkuName"`
	ProductName   string  `json:"productName"`
	SkuName       string  `json:"skuName"`
	MeterName     string  `json:"meterName"`
	ServiceName   string  `json:"serviceName"`
	UnitOfMeasure string  `json:"unitOfMeasure"`
	Type          string  `json:"type"`
}

// retailPrices reads a location's VM prices from the Retail Prices API
// (public, no credentials). It keeps Linux pay-as-you-go meters: Windows
// products, Low Priority meters (retired in favour of Spot), Dev/Test and
// reservation prices are skipped; a "... Spot" meter is the Spot price.
func (p *Provider) retailPrices(ctx context.Context, location string) (map[string]sizePrice, error) {
	filter := fmt.Sprintf("serviceName eq 'Virtual Machines' and armRegionName eq '%s' and priceType eq 'Consumption'", location)
	next := p.pricesBase() + "/api/retail/prices?$filter=" + url.QueryEscape(filter)
	out := map[string]sizePrice{}
	for page := 0; next != ""; page++ {
		if page >= maxPricePages {
			return nil, fmt.Errorf("azure: the Retail Prices API gave more than %d pages for %s", maxPricePages, location)
		}
		var body struct {
			Items        []priceItem `json:"Items"`
			NextPageLink *string     `json:"NextPageLink"`
		}
		if err := p.getJSON(ctx, next, &body); err != nil {
			return nil, fmt.Errorf("azure: reading prices for %s: %w", location, err)
		}
		for _, it := range body.Items {
			if it.Type != "Consumption" || it.ServiceName != "Virtual Machines" || it.CurrencyCode != "USD" ||
				it.UnitOfMeasure != "1 Hour" || it.ArmSkuName == "" || it.RetailPrice <= 0 ||
				!strings.EqualFold(it.ArmRegionName, location) ||
				strings.Contains(it.ProductName, "Windows") || strings.Contains(it.SkuName, "Low Priority") || strings.Contains(it.MeterName, "Low Priority") {
				continue
			}
			pr := out[it.ArmSkuName]
			if strings.HasSuffix(it.SkuName, " Spot") {
				if pr.spot == 0 || it.RetailPrice < pr.spot {
					pr.spot = it.RetailPrice
				}
			} else if pr.onDemand == 0 || it.RetailPrice < pr.onDemand {
				pr.onDemand = it.RetailPrice
			}
			out[it.ArmSkuName] = pr
		}
		next = ""
		if body.NextPageLink != nil {
			next = *body.NextPageLink
		}
	}
	return out, nil
}

// getJSON GETs a URL and decodes its JSON, retrying throttling and server
// errors a few times.
func (p *Provider) getJSON(ctx context.Context, u string, v any) error {
	backoff := time.Second
	for try := 0; ; try++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		resp, err := p.opts.HTTPClient.Do(req)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		_ = resp.Body.Close()
		if err != nil {
			return err
		}
		retry := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
		if retry && try < 4 {
			d := retryAfter(resp.Header)
			if d <= 0 {
				d = backoff
				backoff *= 2
			}
			if err := p.opts.Sleep(ctx, min(d, p.opts.MaxRetryDelay)); err != nil {
				return err
			}
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(b[:min(len(b), 300)])))
		}
		return json.Unmarshal(b, v)
	}
}
