package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var (
	burstColor    = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	baselineColor = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	boundColor    = color.RGBA{R: 0x70, G: 0x70, B: 0x70, A: 0xff}
)

// chart draws API-phase wall time against N, log-log: one panel per cloud
// (columns) and phase (rows), with burst, the per-machine baseline and the
// lower bound in each. Every panel shares the axes' ranges, so panels
// compare at a glance.
func chart(r *Results, path string) error {
	clouds, ns := axes(r)
	if len(clouds) == 0 {
		return nil
	}
	phases := []string{"up", "down"}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range r.Scale {
		if s.Err != "" {
			continue
		}
		for _, p := range s.Phases {
			for _, v := range []float64{p.Wall, p.Bound.Seconds()} {
				if v > 0 {
					lo, hi = math.Min(lo, v), math.Max(hi, v)
				}
			}
		}
	}
	ymin, ymax := math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)))
	xmin, xmax := float64(ns[0])/2, float64(ns[len(ns)-1])*2

	plots := make([][]*plot.Plot, len(phases))
	for i, phase := range phases {
		plots[i] = make([]*plot.Plot, len(clouds))
		for j, cloud := range clouds {
			p := plot.New()
			p.Title.Text = fmt.Sprintf("%s: %s", cloudTitle(cloud), map[string]string{"up": "up 0 -> N", "down": "down N -> 0"}[phase])
			p.Title.TextStyle.Font.Size = vg.Points(13)
			p.X.Label.Text = "N workers"
			p.Y.Label.Text = "API phase wall time (s)"
			p.X.Tick.Marker, p.Y.Tick.Marker = xTicks(ns), yTicks(ymin, ymax)
			for _, ax := range []*plot.Axis{&p.X, &p.Y} {
				ax.Scale = plot.LogScale{}
				ax.Label.TextStyle.Font.Size = vg.Points(11)
				ax.Tick.Label.Font.Size = vg.Points(10)
			}
			p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = xmin, xmax, ymin, ymax
			p.Add(plotter.NewGrid())
			series := []struct {
				name   string
				client string
				bound  bool
				color  color.Color
				dashes []vg.Length
			}{
				{"burst", clientBurst, false, burstColor, nil},
				{"per-machine baseline", clientBaseline, false, baselineColor, []vg.Length{vg.Points(6), vg.Points(3)}},
				{"lower bound", clientBurst, true, boundColor, []vg.Length{vg.Points(2), vg.Points(2)}},
			}
			for _, s := range series {
				var xys plotter.XYs
				for _, n := range ns {
					run := r.scale(cloud, n, s.client)
					if s.bound && run == nil {
						run = r.scale(cloud, n, clientBaseline)
					}
					if run == nil || run.phase(phase) == nil {
						continue
					}
					ph := run.phase(phase)
					y := ph.Wall
					if s.bound {
						y = ph.Bound.Seconds()
					}
					xys = append(xys, plotter.XY{X: float64(n), Y: y})
				}
				if len(xys) == 0 {
					continue
				}
				l, pts, err := plotter.NewLinePoints(xys)
				if err != nil {
					return err
				}
				l.Color, l.Width, l.Dashes = s.color, vg.Points(2), s.dashes
				pts.Color, pts.Radius = s.color, vg.Points(3)
				pts.Shape = draw.CircleGlyph{}
				p.Add(l, pts)
				p.Legend.Add(s.name, l, pts)
			}
			p.Legend.Top, p.Legend.Left = true, true
			p.Legend.TextStyle.Font.Size = vg.Points(10)
			p.Legend.Padding = vg.Points(2)
			plots[i][j] = p
		}
	}

	const dpi = 96
	w, h := vg.Length(len(clouds))*4.6*vg.Inch, vg.Length(len(phases))*3.6*vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(phases), Cols: len(clouds), PadTop: vg.Points(10), PadBottom: vg.Points(6), PadLeft: vg.Points(6),
		PadRight: vg.Points(12), PadX: vg.Points(18), PadY: vg.Points(18)}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		for j := range plots[i] {
			plots[i][j].Draw(canvases[i][j])
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// xTicks labels the counts measured, with unlabelled ticks at the other
// multiples of each power of ten.
func xTicks(ns []int) plot.ConstantTicks {
	var ts []plot.Tick
	for _, n := range ns {
		ts = append(ts, plot.Tick{Value: float64(n), Label: fmt.Sprint(n)})
	}
	return append(ts, minorTicks(float64(ns[0])/2, float64(ns[len(ns)-1])*2)...)
}

// yTicks labels the powers of ten from lo to hi.
func yTicks(lo, hi float64) plot.ConstantTicks {
	var ts []plot.Tick
	for e := math.Round(math.Log10(lo)); e <= math.Round(math.Log10(hi)); e++ {
		ts = append(ts, plot.Tick{Value: math.Pow(10, e), Label: strconv.FormatFloat(math.Pow(10, e), 'f', -1, 64)})
	}
	return append(ts, minorTicks(lo, hi)...)
}

// minorTicks are 2..9 times each power of ten between lo and hi.
func minorTicks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for k := 2.0; k < 10; k++ {
			if v := k * math.Pow(10, e); v >= lo && v <= hi {
				ts = append(ts, plot.Tick{Value: v})
			}
		}
	}
	return ts
}

func cloudTitle(c string) string {
	switch c {
	case "aws":
		return "AWS (EC2)"
	case "gcp":
		return "GCP (GCE)"
	case "azure":
		return "Azure (ARM)"
	}
	return c
}
