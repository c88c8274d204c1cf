package mix

import "math"

// limit is a peak limiter with instant attack: a sample that would pass
// the ceiling at the current gain sets the gain that brings it exactly
// to the ceiling, and the gain then recovers towards 1 with the release
// coefficient rel per sample. No output sample exceeds ceil, so the
// quantizer never clips a sum of loud speakers, and below the ceiling the
// signal passes untouched.
func limit(x []float32, gain *float32, ceil, rel float32) {
	g := *gain
	for i, v := range x {
		g += (1 - g) * rel
		a := v
		if a < 0 {
			a = -a
		}
		if a*g > ceil {
			g = ceil / a
		}
		x[i] = v * g
	}
	*gain = g
}

// releaseCoefficient is the per-sample recovery of a one-pole release of
// time constant seconds at rate.
func releaseCoefficient(seconds float64, rate int) float32 {
	return float32(1 - math.Exp(-1/(seconds*float64(rate))))
}
