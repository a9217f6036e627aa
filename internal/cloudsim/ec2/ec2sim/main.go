// Command ec2sim serves the EC2 simulator on a local address, for trying
// burst (or the aws CLI) against it by hand:
//
//	go run ./internal/cloudsim/ec2/ec2sim -addr 127.0.0.1:4566 &
//	AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x \
//	  AWS_REGION=us-east-1 burst up demo -n 3 --provider aws --wait machines --yes
//
// Instances run at once and nothing is persisted; it is a test double.
package main

import (
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/burstdev/burst/internal/cloudsim"
	simec2 "github.com/burstdev/burst/internal/cloudsim/ec2"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4566", "listen address (loopback only)")
	latency := flag.Duration("latency", 0, "added to every call")
	throttle := flag.Bool("throttle", false, "enforce EC2's documented request and resource buckets")
	flag.Parse()
	m := simec2.NewModel(cloudsim.Config{Latency: *latency, BootDelay: 2 * time.Second})
	if *throttle {
		simec2.SetDocumentedThrottles(m)
	}
	log.Printf("EC2 simulator on http://%s (regions us-east-1, us-west-2, eu-west-1)", *addr)
	log.Fatal(http.ListenAndServe(*addr, simec2.New(m)))
}
