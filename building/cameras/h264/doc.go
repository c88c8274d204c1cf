// Package h264 is a small, allocation-conscious H.264 toolkit for camera
// live view: it turns a camera's RTP stream (RFC 6184, packetization-mode 1)
// into access units, reads the figures a health page wants from the SPS
// (profile, level, picture size), and packetizes access units again for
// WebRTC, so pictures pass from RTSP to the browser without transcoding.
//
// It holds no application state and imports nothing of civic's, so any
// package may import it: the camera modules use it for live view and health
// figures, tests and benchmarks use it to make streams from Annex B clips.
// The test clip testdata/ball-640x360-15fps.h264 (see testdata/README.md) is
// meant to be read by other packages' tests through a relative path.
//
// Assembler and Packetizer are not safe for concurrent use: each serves one
// stream from one goroutine, the way RTP arrives.
package h264
