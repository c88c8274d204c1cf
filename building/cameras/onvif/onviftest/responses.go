package onviftest

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// envelopeOpen declares the prefixes real cameras put on the envelope.
const envelopeOpen = `<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:soapenc="http://www.w3.org/2003/05/soap-encoding" ` +
	`xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" ` +
	`xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" ` +
	`xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tr2="http://www.onvif.org/ver20/media/wsdl" ` +
	`xmlns:tev="http://www.onvif.org/ver10/events/wsdl" xmlns:timg="http://www.onvif.org/ver20/imaging/wsdl" ` +
	`xmlns:tptz="http://www.onvif.org/ver20/ptz/wsdl" xmlns:ter="http://www.onvif.org/ver10/error" ` +
	`xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" ` +
	`xmlns:wstop="http://docs.oasis-open.org/wsn/t-1" xmlns:tns1="http://www.onvif.org/ver10/topics" ` +
	`xmlns:dom0="http://www.example.com/onviftest">
<env:Header/><env:Body>`

const envelopeClose = "</env:Body></env:Envelope>\n"

// reply writes a SOAP response with body inside the Body.
func (s *Server) reply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/soap+xml; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(envelopeOpen + body + envelopeClose))
}

// fault writes a SOAP 1.2 fault; sub may be "" or "a/b" for nested
// subcodes.
func (s *Server) fault(w http.ResponseWriter, status int, code, sub, reason string) {
	var b strings.Builder
	b.WriteString(`<env:Fault><env:Code><env:Value>` + code + `</env:Value>`)
	parts := []string{}
	if sub != "" {
		parts = strings.Split(sub, "/")
	}
	for _, p := range parts {
		b.WriteString(`<env:Subcode><env:Value>` + p + `</env:Value>`)
	}
	for range parts {
		b.WriteString(`</env:Subcode>`)
	}
	b.WriteString(`</env:Code><env:Reason><env:Text xml:lang="en">` + esc(reason) + `</env:Text></env:Reason></env:Fault>`)
	s.reply(w, status, b.String())
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(s)
}

// xaddr is a service address as the camera advertises it.
func (s *Server) xaddr(path string) string { return "http://" + s.host + path }

func dateTime(t time.Time) string {
	return fmt.Sprintf(`<tt:Time><tt:Hour>%d</tt:Hour><tt:Minute>%d</tt:Minute><tt:Second>%d</tt:Second></tt:Time>`+
		`<tt:Date><tt:Year>%d</tt:Year><tt:Month>%d</tt:Month><tt:Day>%d</tt:Day></tt:Date>`,
		t.Hour(), t.Minute(), t.Second(), t.Year(), int(t.Month()), t.Day())
}

func (s *Server) getSystemDateAndTime(w http.ResponseWriter, _ *http.Request, _ *request) {
	now := s.Now().UTC()
	local := now.Add(8 * time.Hour) // the camera is set to China Standard Time
	s.reply(w, http.StatusOK, `<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>`+
		`<tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>`+
		`<tt:TimeZone><tt:TZ>CST-8:00:00</tt:TZ></tt:TimeZone>`+
		`<tt:UTCDateTime>`+dateTime(now)+`</tt:UTCDateTime><tt:LocalDateTime>`+dateTime(local)+`</tt:LocalDateTime>`+
		`</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>`)
}

func (s *Server) getDeviceInformation(w http.ResponseWriter, _ *http.Request, _ *request) {
	c := s.cam
	s.reply(w, http.StatusOK, `<tds:GetDeviceInformationResponse>`+
		`<tds:Manufacturer>`+esc(c.Manufacturer)+`</tds:Manufacturer><tds:Model>`+esc(c.Model)+`</tds:Model>`+
		`<tds:FirmwareVersion>`+esc(c.Firmware)+`</tds:FirmwareVersion><tds:SerialNumber>`+esc(c.Serial)+`</tds:SerialNumber>`+
		`<tds:HardwareId>`+esc(c.HardwareID)+`</tds:HardwareId></tds:GetDeviceInformationResponse>`)
}

func (s *Server) getServices(w http.ResponseWriter, _ *http.Request, req *request) {
	caps := strings.TrimSpace(req.Body.Op.IncludeCapability) == "true"
	var b strings.Builder
	svc := func(ns, path, capability string, major, minor int) {
		b.WriteString(`<tds:Service><tds:Namespace>` + ns + `</tds:Namespace><tds:XAddr>` + s.xaddr(path) + `</tds:XAddr>`)
		if caps {
			b.WriteString(`<tds:Capabilities>` + capability + `</tds:Capabilities>`)
		}
		fmt.Fprintf(&b, `<tds:Version><tt:Major>%d</tt:Major><tt:Minor>%d</tt:Minor></tds:Version></tds:Service>`, major, minor)
	}
	svc(nsDevice, "/onvif/device_service", `<tds:Capabilities><tds:Network IPFilter="true" ZeroConfiguration="true" IPVersion6="false" DynDNS="true"/><tds:Security UsernameToken="true" HttpDigest="true"/><tds:System DiscoveryResolve="true" DiscoveryBye="true"/></tds:Capabilities>`, 17, 12)
	svc(nsMedia, "/onvif/media_service", `<trt:Capabilities SnapshotUri="true" Rotation="false" VideoSourceMode="false" OSD="true"><trt:ProfileCapabilities MaximumNumberOfProfiles="10"/><trt:StreamingCapabilities RTPMulticast="true" RTP_TCP="true" RTP_RTSP_TCP="true"/></trt:Capabilities>`, 17, 12)
	if !s.cam.NoMedia2 {
		svc(nsMedia2, "/onvif/media2_service", `<tr2:Capabilities SnapshotUri="true" Rotation="false" VideoSourceMode="false" OSD="true" Mask="true" SourceMask="true"><tr2:ProfileCapabilities MaximumNumberOfProfiles="10" ConfigurationsSupported="VideoSource VideoEncoder AudioSource AudioEncoder PTZ Analytics"/><tr2:StreamingCapabilities RTSPStreaming="true" RTPMulticast="true" RTP_RTSP_TCP="true" AutoStartMulticast="false"/></tr2:Capabilities>`, 18, 12)
	}
	if !s.cam.NoEvents {
		svc(nsEvents, "/onvif/event_service", `<tev:Capabilities WSSubscriptionPolicySupport="true" WSPullPointSupport="false" WSPausableSubscriptionManagerInterfaceSupport="false" MaxNotificationProducers="10" MaxPullPoints="10" PersistentNotificationStorage="false"/>`, 17, 12)
	}
	svc(nsImaging, "/onvif/imaging_service", `<timg:Capabilities ImageStabilization="false" Presets="false"/>`, 16, 12)
	svc(nsPTZ, "/onvif/ptz_service", `<tptz:Capabilities EFlip="false" Reverse="false" GetCompatibleConfigurations="true"/>`, 17, 12)
	s.reply(w, http.StatusOK, `<tds:GetServicesResponse>`+b.String()+`</tds:GetServicesResponse>`)
}

func (s *Server) getCapabilities(w http.ResponseWriter, _ *http.Request, _ *request) {
	var b strings.Builder
	b.WriteString(`<tds:GetCapabilitiesResponse><tds:Capabilities>`)
	b.WriteString(`<tt:Device><tt:XAddr>` + s.xaddr("/onvif/device_service") + `</tt:XAddr><tt:System><tt:DiscoveryResolve>false</tt:DiscoveryResolve>` +
		`<tt:SupportedVersions><tt:Major>2</tt:Major><tt:Minor>0</tt:Minor></tt:SupportedVersions></tt:System></tt:Device>`)
	if !s.cam.NoEvents {
		b.WriteString(`<tt:Events><tt:XAddr>` + s.xaddr("/onvif/event_service") + `</tt:XAddr>` +
			`<tt:WSSubscriptionPolicySupport>true</tt:WSSubscriptionPolicySupport><tt:WSPullPointSupport>true</tt:WSPullPointSupport>` +
			`<tt:WSPausableSubscriptionManagerInterfaceSupport>false</tt:WSPausableSubscriptionManagerInterfaceSupport></tt:Events>`)
	}
	b.WriteString(`<tt:Imaging><tt:XAddr>` + s.xaddr("/onvif/imaging_service") + `</tt:XAddr></tt:Imaging>`)
	b.WriteString(`<tt:Media><tt:XAddr>` + s.xaddr("/onvif/media_service") + `</tt:XAddr><tt:StreamingCapabilities>` +
		`<tt:RTPMulticast>true</tt:RTPMulticast><tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media>`)
	b.WriteString(`<tt:PTZ><tt:XAddr>` + s.xaddr("/onvif/ptz_service") + `</tt:XAddr></tt:PTZ>`)
	b.WriteString(`</tds:Capabilities></tds:GetCapabilitiesResponse>`)
	s.reply(w, http.StatusOK, b.String())
}

func (s *Server) getProfiles(w http.ResponseWriter, _ *http.Request, req *request) {
	v2 := req.Body.Op.XMLName.Space == nsMedia2
	var b strings.Builder
	if !v2 {
		b.WriteString(`<trt:GetProfilesResponse>`)
		for i, p := range s.cam.Profiles {
			fmt.Fprintf(&b, `<trt:Profiles token="%s" fixed="true"><tt:Name>%s</tt:Name>`+
				`<tt:VideoSourceConfiguration token="VideoSourceToken"><tt:Name>VideoSourceConfig</tt:Name><tt:UseCount>%d</tt:UseCount>`+
				`<tt:SourceToken>VideoSource_1</tt:SourceToken><tt:Bounds x="0" y="0" width="1920" height="1080"></tt:Bounds></tt:VideoSourceConfiguration>`+
				`<tt:VideoEncoderConfiguration token="VideoEncoderToken_%d"><tt:Name>VideoEncoder_%d</tt:Name><tt:UseCount>1</tt:UseCount>`+
				`<tt:Encoding>%s</tt:Encoding><tt:Resolution><tt:Width>%d</tt:Width><tt:Height>%d</tt:Height></tt:Resolution>`+
				`<tt:Quality>3.000000</tt:Quality><tt:RateControl><tt:FrameRateLimit>%d</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval>`+
				`<tt:BitrateLimit>%d</tt:BitrateLimit></tt:RateControl><tt:H264><tt:GovLength>50</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264>`+
				`<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address><tt:Port>8860</tt:Port>`+
				`<tt:TTL>128</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast><tt:SessionTimeout>PT5S</tt:SessionTimeout>`+
				`</tt:VideoEncoderConfiguration></trt:Profiles>`,
				esc(p.Token), esc(p.Name), len(s.cam.Profiles), i+1, i+1, esc(p.Encoding), p.Width, p.Height, p.FPS, p.BitrateKbps)
		}
		b.WriteString(`</trt:GetProfilesResponse>`)
		s.reply(w, http.StatusOK, b.String())
		return
	}
	// Media2 returns configurations only for the types asked for.
	withEncoder := false
	for _, t := range req.Body.Op.Type {
		withEncoder = withEncoder || t == "All" || t == "VideoEncoder"
	}
	b.WriteString(`<tr2:GetProfilesResponse>`)
	for i, p := range s.cam.Profiles {
		fmt.Fprintf(&b, `<tr2:Profiles token="%s" fixed="true"><tr2:Name>%s</tr2:Name>`, esc(p.Token), esc(p.Name))
		if withEncoder {
			fmt.Fprintf(&b, `<tr2:Configurations><tr2:VideoSource token="VideoSourceToken"><tt:Name>VideoSourceConfig</tt:Name><tt:UseCount>%d</tt:UseCount>`+
				`<tt:SourceToken>VideoSource_1</tt:SourceToken><tt:Bounds x="0" y="0" width="1920" height="1080"></tt:Bounds></tr2:VideoSource>`+
				`<tr2:VideoEncoder token="VideoEncoderToken_%d" GovLength="50" Profile="Main"><tt:Name>VideoEncoder_%d</tt:Name><tt:UseCount>1</tt:UseCount>`+
				`<tt:Encoding>%s</tt:Encoding><tt:Resolution><tt:Width>%d</tt:Width><tt:Height>%d</tt:Height></tt:Resolution>`+
				`<tt:RateControl ConstantBitRate="false"><tt:FrameRateLimit>%d.000000</tt:FrameRateLimit><tt:BitrateLimit>%d</tt:BitrateLimit></tt:RateControl>`+
				`<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address><tt:Port>8860</tt:Port>`+
				`<tt:TTL>128</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast><tt:Quality>3.000000</tt:Quality></tr2:VideoEncoder></tr2:Configurations>`,
				len(s.cam.Profiles), i+1, i+1, esc(p.Encoding), p.Width, p.Height, p.FPS, p.BitrateKbps)
		}
		b.WriteString(`</tr2:Profiles>`)
	}
	b.WriteString(`</tr2:GetProfilesResponse>`)
	s.reply(w, http.StatusOK, b.String())
}

// getURI answers GetStreamUri and GetSnapshotUri of both media versions.
func (s *Server) getURI(w http.ResponseWriter, _ *http.Request, req *request) {
	o := req.Body.Op
	v2 := o.XMLName.Space == nsMedia2
	var prof *Profile
	for i := range s.cam.Profiles {
		if s.cam.Profiles[i].Token == o.ProfileToken {
			prof = &s.cam.Profiles[i]
		}
	}
	if prof == nil {
		s.fault(w, http.StatusBadRequest, "env:Sender", "ter:InvalidArgVal/ter:NoProfile", "The requested profile token ProfileToken does not exist")
		return
	}
	var uri string
	if o.XMLName.Local == "GetStreamUri" {
		switch {
		case v2 && o.Protocol != "RtspUnicast" && o.Protocol != "RTSP":
			s.fault(w, http.StatusBadRequest, "env:Sender", "ter:InvalidArgVal/ter:InvalidStreamSetup", "Protocol "+o.Protocol+" is not supported")
			return
		case !v2 && (o.StreamSetup.Stream != "RTP-Unicast" || o.StreamSetup.Transport.Protocol != "RTSP"):
			s.fault(w, http.StatusBadRequest, "env:Sender", "ter:InvalidArgVal/ter:InvalidStreamSetup", "StreamSetup "+o.StreamSetup.Stream+"/"+o.StreamSetup.Transport.Protocol+" is not supported")
			return
		}
		uri = s.cam.StreamURI + "/" + prof.Token
	} else {
		uri = s.cam.SnapshotURI
		if uri == "" {
			uri = s.xaddr("/onvif/snapshot?profile=" + prof.Token)
		}
	}
	resp := o.XMLName.Local + "Response"
	if v2 {
		s.reply(w, http.StatusOK, `<tr2:`+resp+`><tr2:Uri>`+esc(uri)+`</tr2:Uri></tr2:`+resp+`>`)
		return
	}
	s.reply(w, http.StatusOK, `<trt:`+resp+`><trt:MediaUri><tt:Uri>`+esc(uri)+`</tt:Uri>`+
		`<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>`+
		`<tt:Timeout>PT60S</tt:Timeout></trt:MediaUri></trt:`+resp+`>`)
}

// xsDuration matches the durations cameras accept: PT60S, PT1M, PT1H30M.
var xsDuration = regexp.MustCompile(`^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$`)

// parseDuration reads an xs:duration, or returns def.
func parseDuration(s string, def time.Duration) time.Duration {
	m := xsDuration.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil || s == "PT" {
		return def
	}
	var d time.Duration
	h, _ := strconv.Atoi(m[1])
	mi, _ := strconv.Atoi(m[2])
	sec, _ := strconv.ParseFloat(m[3], 64)
	d = time.Duration(h)*time.Hour + time.Duration(mi)*time.Minute + time.Duration(sec*float64(time.Second))
	if d <= 0 {
		return def
	}
	return d
}

func xsTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }
