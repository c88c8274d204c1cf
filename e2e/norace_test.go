//go:build !race

package e2e

// raceBuild is true when the tests run with -race; the daemon is then
// built with -race as well.
const raceBuild = false

// timeScale stretches the tests' deadlines; see race_test.go.
const timeScale = 1
