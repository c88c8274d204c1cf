// Package e2e holds civicd's end-to-end tests. They build the real daemon
// once, start it as a subprocess on loopback with a fresh data directory and
// drive it with real clients: a headless Chromium for the web console, and
// Node for the console's JavaScript modules.
//
// The package has no code of its own besides this comment; nothing may
// import it. The helper that starts and stops a daemon (daemon_test.go) is
// meant to be reused by every end-to-end test in this package.
package e2e
