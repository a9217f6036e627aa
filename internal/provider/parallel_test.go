package provider

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

func TestParallelReturnsTheLowestFailure(t *testing.T) {
	var ran atomic.Int32
	err := Parallel(10, 0, func(i int) error {
		ran.Add(1)
		if i == 7 {
			return errors.New("seven")
		}
		if i == 3 {
			// The later index fails first in time; the answer is still 3.
			time.Sleep(20 * time.Millisecond)
			return errors.New("three")
		}
		return nil
	})
	if err == nil || err.Error() != "three" || ran.Load() != 10 {
		t.Fatalf("err %v after %d calls; want three after 10", err, ran.Load())
	}
}

func TestParallelBoundsConcurrency(t *testing.T) {
	var now, peak atomic.Int32
	err := Parallel(20, 3, func(i int) error {
		n := now.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
		now.Add(-1)
		return nil
	})
	if err != nil || peak.Load() > 3 || peak.Load() < 2 {
		t.Fatalf("err %v, peak %d in flight; want at most 3 (and some overlap)", err, peak.Load())
	}
	if err := Parallel(0, 4, func(int) error { return fmt.Errorf("never") }); err != nil {
		t.Fatal(err)
	}
}
