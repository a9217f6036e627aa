package aws

import (
	"context"
	"fmt"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/burstdev/burst/internal/provider"
)

// Image owners and name patterns. Ubuntu 24.04 LTS images are Canonical's
// (owner 099720109477); GPU types get AWS's "Deep Learning Base OSS Nvidia
// Driver GPU AMI", Ubuntu 24.04 with the NVIDIA driver and container
// toolkit, which the container workload needs for --gpus all.
const (
	ownerCanonical = "099720109477"
	ownerAmazon    = "amazon"
)

type imageKey struct {
	region, arch string
	gpu          bool
}

type imageInfo struct {
	id, rootDevice string
}

func imageQuery(arch string, gpu bool) (owner, pattern, what string) {
	ubuntuArch := "amd64"
	if arch == "arm64" {
		ubuntuArch = "arm64"
	}
	if gpu {
		if arch == "arm64" {
			return ownerAmazon, "Deep Learning ARM64 Base OSS Nvidia Driver GPU AMI (Ubuntu 24.04) *", "NVIDIA deep learning base image (Ubuntu 24.04, arm64)"
		}
		return ownerAmazon, "Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 24.04) *", "NVIDIA deep learning base image (Ubuntu 24.04, x86_64)"
	}
	return ownerCanonical, "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-" + ubuntuArch + "-server-*", "Ubuntu 24.04 LTS (" + arch + ")"
}

// image returns the image for an architecture in a region: the configured
// AMI, or the newest matching Ubuntu (or GPU) image. A missing image is an
// ErrInvalid scoped to the region, found before anything is launched.
func (p *Provider) image(ctx context.Context, region, arch string, gpu bool) (imageInfo, error) {
	k := imageKey{region, arch, gpu}
	if p.opts.AMI != "" {
		k = imageKey{region: region}
	}
	p.mu.Lock()
	im, ok := p.images[k]
	p.mu.Unlock()
	if ok {
		return im, nil
	}
	c, err := p.ec2Client(ctx, region)
	if err != nil {
		return im, err
	}
	var in *ec2.DescribeImagesInput
	owner, pattern, what := imageQuery(arch, gpu)
	if p.opts.AMI != "" {
		in = &ec2.DescribeImagesInput{ImageIds: []string{p.opts.AMI}}
		what = "configured image " + p.opts.AMI
	} else {
		in = &ec2.DescribeImagesInput{Owners: []string{owner}, Filters: []types.Filter{
			{Name: sdkaws.String("name"), Values: []string{pattern}},
			{Name: sdkaws.String("architecture"), Values: []string{arch}},
			{Name: sdkaws.String("state"), Values: []string{"available"}},
		}}
	}
	out, err := c.DescribeImages(ctx, in)
	if err != nil && apiCode(err) != "InvalidAMIID.NotFound" {
		return im, classify("DescribeImages", err)
	}
	var best *types.Image
	if err == nil {
		for i := range out.Images {
			x := &out.Images[i]
			if best == nil || sdkaws.ToString(x.CreationDate) > sdkaws.ToString(best.CreationDate) {
				best = x
			}
		}
	}
	if best == nil {
		return im, &provider.Error{Kind: provider.ErrInvalid, Scope: provider.ScopeRegion, Op: "DescribeImages", Code: "ImageNotFound",
			Msg: fmt.Sprintf("no %s image in %s; choose another region or set aws.ami (BURST_AWS_AMI)", what, region)}
	}
	im = imageInfo{id: sdkaws.ToString(best.ImageId), rootDevice: sdkaws.ToString(best.RootDeviceName)}
	if im.rootDevice == "" {
		im.rootDevice = "/dev/sda1"
	}
	p.mu.Lock()
	p.images[k] = im
	p.mu.Unlock()
	return im, nil
}
