//go:build race

package e2e

// raceBuild is true when the tests run with -race; the daemon is then
// built with -race as well.
const raceBuild = true

// timeScale stretches the tests' deadlines: under the race detector the
// daemon's bcrypt and TLS key generation run several times slower, and a
// loaded two-core machine slows them further.
const timeScale = 3
