// Package audio is the root of civicd's audio toolkit for bridging desk
// phones into meetings without cgo. It holds no code; the work is done by
// its sub-packages, which the voip media bridge imports:
//
//   - g711: μ-law and A-law (PCMU, PCMA) sample conversion.
//   - g722: the ITU-T G.722 64 kbit/s sub-band ADPCM codec.
//   - resample: 8000, 16000 and 48000 Hz conversion with polyphase FIRs.
//   - jitter: a jitter buffer for a phone's G.711/G.722 RTP stream.
//   - mix: one meeting's mixer: decode once, mix N-1 per listener, limit,
//     resample and encode for each phone.
//
// The packages hold no application state and depend on no other civic
// package, so any module may import them; in practice only voip does.
package audio
