// Package webui is civicd's console: the HTTPS server, the login API, the
// websocket console API at /api/ws and the embedded web UI in static/.
//
// protocol.go is the one place where the console protocol is defined: every
// message type, payload, topic, role and error code (the building's
// payloads, which are many, are in building_protocol.go). The server side
// of each request lives in handlers.go (and, for one area, in its own file
// such as phones.go, calls.go, building.go or building_editors.go);
// subscriptions and their snapshots live in subscribe.go. The CSV exports
// (attendance.go, calls.go, building_csv.go) are plain HTTP GETs that
// authenticate with the session cookie; floor plans (floorplan.go) are
// plain HTTP too.
//
// Only cmd/civicd imports this package. No module imports webui: modules
// publish typed events on internal/events, and the console is one more
// subscriber.
package webui
