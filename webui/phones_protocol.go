package webui

import "civic/voip"

// The payloads of the SIP side's requests (voip), listed in the Messages
// table of protocol.go.

// NumberParams name an extension or a ring group by its number.
type NumberParams struct {
	Number string `json:"number"`
}

// ExtensionsResult is the result of voip.extensions.list.
type ExtensionsResult struct {
	Extensions []voip.Extension `json:"extensions"`
}

// ExtensionResult carries one extension.
type ExtensionResult struct {
	Extension voip.Extension `json:"extension"`
}

// RingGroupsResult is the result of voip.ringgroups.list.
type RingGroupsResult struct {
	RingGroups []voip.RingGroup `json:"ring_groups"`
}

// RingGroupResult carries one ring group.
type RingGroupResult struct {
	RingGroup voip.RingGroup `json:"ring_group"`
}

// PhonesSnapshot is the voip.phones topic's snapshot.
type PhonesSnapshot struct {
	Phones []voip.Phone `json:"phones"`
}

// CallsResult is the result of voip.calls.list and the voip.calls snapshot.
type CallsResult struct {
	Calls []voip.Call `json:"calls"`
}

// CallIDParams name a live call.
type CallIDParams struct {
	CallID string `json:"call_id"`
}

// RecordsListParams are the params of voip.records.list, and the query of
// the CSV export. Every field is optional.
type RecordsListParams struct {
	// Extension matches the caller, the number dialled or the final target.
	Extension string `json:"extension"`
	// Result is one of CallResults.
	Result string `json:"result"`
	// From and To (RFC 3339) bound the start time: from <= started < to.
	From string `json:"from"`
	To   string `json:"to"`
	// Limit caps the rows: 1-1000. Default: 100 (the CSV: 1000).
	Limit int `json:"limit"`
}

// RecordsResult is the result of voip.records.list.
type RecordsResult struct {
	Records []voip.CallRecord `json:"records"`
}

// CallResults are the results a call record can have, in documentation
// order: how the call ended from the caller's point of view.
var CallResults = []string{"answered", "busy", "no_answer", "unavailable", "unknown_number", "cancelled", "refused", "failed"}

// RecordsCSVPath is where call records are exported as CSV.
const RecordsCSVPath = "/api/voip/records.csv"
