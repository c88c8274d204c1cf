package cameras

import (
	"context"
	"time"

	"civic/building"
	"civic/building/cameras/onvif"
	"civic/building/cameras/rtsp"
)

// pullEvents follows an ONVIF camera's events through a PullPoint
// subscription while ctx lasts: motion goes on the bus, tampering raises
// (and, when the camera says it is over, resolves) a building alarm. A
// camera without an event service is left alone; a failed subscription
// is made again after a backoff.
func (w *worker) pullEvents(ctx context.Context) {
	const termination = time.Minute
	attempt := 0
	for ctx.Err() == nil {
		cam := w.camera()
		if cam.ONVIFURL == "" || !cam.Enabled {
			return
		}
		c := onvif.NewClient(cam.ONVIFURL, cam.Username, cam.Password, onvif.Options{Timeout: w.s.cfg.Timeout, Logger: w.s.log})
		err := w.followPullPoint(ctx, c, cam, termination)
		if ctx.Err() != nil {
			return
		}
		if err == errNoEvents {
			w.s.log.Info("camera: no ONVIF event service; motion and tamper events off", "camera", cam.ID)
			return
		}
		w.s.log.Warn("camera: ONVIF events", "camera", cam.ID, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(rtsp.Backoff(attempt)):
		}
		attempt++
	}
}

type noEvents struct{}

func (noEvents) Error() string { return "no event service" }

var errNoEvents error = noEvents{}

// followPullPoint subscribes and pulls until an error or the end.
func (w *worker) followPullPoint(ctx context.Context, c *onvif.Client, cam Camera, termination time.Duration) error {
	svc, err := c.Capabilities(ctx)
	if err != nil {
		return err
	}
	if !svc.PullPoint {
		return errNoEvents
	}
	pp, err := c.CreatePullPoint(ctx, termination)
	if err != nil {
		return err
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_ = pp.Unsubscribe(uctx)
	}()
	renewAt := time.Now().Add(termination / 2)
	for ctx.Err() == nil {
		evs, err := pp.Pull(ctx, 10*time.Second, 32)
		if err != nil {
			return err
		}
		for _, e := range evs {
			w.onvifEvent(cam, e)
		}
		if time.Now().After(renewAt) {
			if err := pp.Renew(ctx, termination); err != nil {
				return err
			}
			renewAt = time.Now().Add(termination / 2)
		}
	}
	return ctx.Err()
}

// onvifEvent acts on one camera event.
func (w *worker) onvifEvent(cam Camera, e onvif.Event) {
	switch e.Kind {
	case onvif.KindMotion:
		st := w.status(time.Now())
		active := e.Active
		w.s.publish(Event{Kind: KindMotion, Camera: &st, Active: &active})
	case onvif.KindTamper:
		msg := "camera " + cam.Name + " reports tampering (" + e.Topic + ")"
		if !e.Active {
			msg = "camera " + cam.Name + " no longer reports tampering"
		}
		w.s.log.Warn("camera: tamper", "camera", cam.ID, "active", e.Active, "topic", e.Topic)
		w.s.alarm(cam.ID, building.AlarmCameraTamper, e.Active, msg)
	}
}
