package webui

import (
	"github.com/pion/webrtc/v4"

	"civic/building/cameras"
)

// The cameras' requests, topic and payloads (building/cameras). They are
// listed in the Messages and Topics tables through cameraMessages and
// cameraTopics, which protocol.go appends.

// Camera request types.
const (
	TypeCamerasList     = "building.cameras.list"
	TypeCamerasCreate   = "building.cameras.create"
	TypeCamerasUpdate   = "building.cameras.update"
	TypeCamerasDelete   = "building.cameras.delete"
	TypeCamerasProbe    = "building.cameras.probe"
	TypeCamerasDiscover = "building.cameras.discover"
	TypeCameraWatch     = "camera.watch"
	TypeCameraAnswer    = "camera.answer"
	TypeCameraCandidate = "camera.candidate"
	TypeCameraUnwatch   = "camera.unwatch"
)

// TopicBuildingCameras is the cameras' live state.
const TopicBuildingCameras = "building.cameras"

// Events on a camera.watch or building.cameras.discover request's id.
const (
	KindCameraEnded       = "camera.ended"       // the viewer ended: the camera was removed or the connection failed
	KindDiscoveryFound    = "discovery.found"    // {camera: Found}
	KindDiscoveryProgress = "discovery.progress" // {percent, found}
	KindDiscoveryDone     = "discovery.done"     // {found: [Found], error?}
	TopicCameraWatch      = "camera.watch"       // the topic of a viewer's events
	TopicCameraDiscovery  = "building.discovery" // the topic of a scan's events
	CameraSnapshotPath    = "/api/cameras/{id}/snapshot"
)

// CameraBody carries one camera to create or change.
type CameraBody struct {
	Camera cameras.Input `json:"camera"`
}

// CameraResult carries one camera's settings. Its live state follows on
// the building.cameras topic (a new camera starts unknown).
type CameraResult struct {
	Camera cameras.Camera `json:"camera"`
}

// CameraIDParams name a camera.
type CameraIDParams struct {
	CameraID string `json:"camera_id"`
}

// CamerasResult is the result of building.cameras.list and the snapshot
// of the building.cameras topic: every camera's settings and live state,
// by id.
type CamerasResult struct {
	Cameras []cameras.Camera `json:"cameras"`
	Status  []cameras.Status `json:"status"`
}

// CameraProbeParams are the params of building.cameras.probe.
type CameraProbeParams struct {
	ONVIFURL string `json:"onvif_url"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// CameraDiscoverParams are the params of building.cameras.discover.
type CameraDiscoverParams struct {
	// TimeoutMS is how long to listen for answers: 500-10000; default
	// 3000.
	TimeoutMS int `json:"timeout_ms"`
}

// CameraDiscoverResult is the result of building.cameras.discover: the
// scan has started; its events follow on the request's id.
type CameraDiscoverResult struct {
	TimeoutMS int `json:"timeout_ms"`
}

// CameraWatchParams are the params of camera.watch.
type CameraWatchParams struct {
	Camera string `json:"camera"`
}

// CameraWatchResult is civicd's offer for a live view.
type CameraWatchResult struct {
	Viewer     string             `json:"viewer"`
	SDP        string             `json:"sdp"`
	ICEServers []webrtc.ICEServer `json:"ice_servers"`
	Status     cameras.Status     `json:"status"`
}

// CameraAnswerParams carry the console's answer for a viewer.
type CameraAnswerParams struct {
	Viewer string `json:"viewer"`
	SDP    string `json:"sdp"`
}

// CameraCandidateParams carry one of the console's ICE candidates.
type CameraCandidateParams struct {
	Viewer    string                  `json:"viewer"`
	Candidate webrtc.ICECandidateInit `json:"candidate"`
}

// ViewerParams name a viewer.
type ViewerParams struct {
	Viewer string `json:"viewer"`
}

func cameraTopics() []TopicSpec {
	return []TopicSpec{
		{TopicBuildingCameras, doorKeepers, "Cameras: a `{cameras, status}` snapshot, then `building.camera_changed` with `{camera}` (its status) when one is added, edited or changes state, `building.camera_removed` with `{camera}`, `building.camera_motion` with `{camera, active}`, and every 5 s `building.camera_health` with `{cameras}` (every camera's figures: fps, bitrate, resolution, last frame)."},
	}
}

func cameraMessages() []MessageSpec {
	return []MessageSpec{
		{TypeCamerasList, doorKeepers, nil, CamerasResult{}, false, "Every camera's settings (no passwords) and live state, by id."},
		{TypeCamerasCreate, adminOnly, CameraBody{}, CameraResult{}, true, "Add a camera by its RTSP URL, or by its ONVIF address (civicd probes it and fills in the model, profiles and stream address). Credentials in the RTSP URL move to the username and password. Its live state follows on the building.cameras topic."},
		{TypeCamerasUpdate, adminOnly, CameraBody{}, CameraResult{}, true, "Change the camera `camera.id`. An absent password keeps the old one; an ONVIF camera whose address, credentials or profile changed is probed again."},
		{TypeCamerasDelete, adminOnly, CameraIDParams{}, struct{}{}, true, "Remove a camera; its viewers end and its alarms resolve."},
		{TypeCamerasProbe, adminOnly, CameraProbeParams{}, cameras.ProbeResult{}, false, "Ask an ONVIF camera who it is and what it streams, saving nothing: for the camera editor."},
		{TypeCamerasDiscover, adminOnly, CameraDiscoverParams{}, CameraDiscoverResult{}, false, "Look for ONVIF cameras on the network (WS-Discovery). The result comes at once; then `discovery.progress` `{percent, found}`, `discovery.found` `{camera}` for each answer, and last `discovery.done` `{found}` follow on this request's id."},
		{TypeCameraWatch, doorKeepers, CameraWatchParams{}, CameraWatchResult{}, false, "Watch a camera live: the result is civicd's WebRTC offer (one H.264 track, all candidates included). Answer with `camera.answer`. `camera.ended` follows on this request's id when the view ends. All viewers of a camera share its one RTSP session."},
		{TypeCameraAnswer, doorKeepers, CameraAnswerParams{}, struct{}{}, false, "The console's answer to a camera.watch offer."},
		{TypeCameraCandidate, doorKeepers, CameraCandidateParams{}, struct{}{}, false, "A trickled ICE candidate for a viewer."},
		{TypeCameraUnwatch, doorKeepers, ViewerParams{}, struct{}{}, false, "Stop watching."},
	}
}
