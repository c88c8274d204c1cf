package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"civic/building/mqttlink/wire"
)

// simConfig is the simulator's config file (see configHelp).
type simConfig struct {
	Broker          string        `yaml:"broker"`
	Heartbeat       time.Duration `yaml:"heartbeat"`
	DecisionTimeout time.Duration `yaml:"decision_timeout"`
	SwipesPerSec    float64       `yaml:"swipes_per_sec"`
	Cards           []string      `yaml:"cards"`
	Controllers     []ctrlConfig  `yaml:"controllers"`
	Script          []scriptStep  `yaml:"script"`
}

type ctrlConfig struct {
	ID        string        `yaml:"id"`
	Password  string        `yaml:"password"`
	FailMode  string        `yaml:"fail_mode"`
	Heartbeat time.Duration `yaml:"heartbeat"`
	Doors     []doorConfig  `yaml:"doors"`
}

type doorConfig struct {
	ID       string         `yaml:"id"`
	UnlockS  int            `yaml:"unlock_s"`
	FailMode string         `yaml:"fail_mode"`
	Readers  []readerConfig `yaml:"readers"`
}

type readerConfig struct {
	ID        string `yaml:"id"`
	Direction string `yaml:"direction"`
}

type scriptStep struct {
	At time.Duration `yaml:"at"`
	Do string        `yaml:"do"`
}

const configHelp = `Config file (YAML; every key optional except controllers):

  broker: mqtt://127.0.0.1:1883    # --broker overrides it
  heartbeat: 10s                   # default heartbeat interval
  decision_timeout: 2s             # no decision by then: apply fail_mode
  swipes_per_sec: 0                # random swipes, over every reader
  cards: ["1001", "1002"]          # cards for random swipes
  controllers:
    - id: c1
      password: secret-c1
      fail_mode: secure            # secure (default) or safe
      heartbeat: 5s                # this controller's interval
      doors:
        - id: east-1
          unlock_s: 5              # when a grant or command says 0
          fail_mode: safe          # overrides the controller's
          readers:
            - {id: east-1-in, direction: in}
            - {id: east-1-out, direction: out}
  script:                          # control commands, at times after every
    - {at: 1s, do: "swipe c1 east-1-in 1001"}   # controller first connected
    - {at: 3s, do: "open east-1"}
`

// loadConfig reads path; unknown keys are an error.
func loadConfig(path string) (simConfig, error) {
	var c simConfig
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// generate returns n controllers with doors doors each: controller cK,
// doors cK-dJ, readers cK-dJ-in and cK-dJ-out, and the password from
// template with {id} replaced.
func generate(n, doors int, template, failMode string, unlockS int) []ctrlConfig {
	out := make([]ctrlConfig, 0, n)
	for k := 1; k <= n; k++ {
		id := fmt.Sprintf("c%d", k)
		c := ctrlConfig{ID: id, Password: strings.ReplaceAll(template, "{id}", id), FailMode: failMode}
		for j := 1; j <= doors; j++ {
			d := fmt.Sprintf("%s-d%d", id, j)
			c.Doors = append(c.Doors, doorConfig{
				ID:      d,
				UnlockS: unlockS,
				Readers: []readerConfig{{ID: d + "-in", Direction: "in"}, {ID: d + "-out", Direction: "out"}},
			})
		}
		out = append(out, c)
	}
	return out
}

// check validates the config and fills in defaults.
func (c *simConfig) check() error {
	if len(c.Controllers) == 0 {
		return errors.New("no controllers (use --config or --controllers)")
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 10 * time.Second
	}
	if c.DecisionTimeout <= 0 {
		c.DecisionTimeout = 2 * time.Second
	}
	if c.SwipesPerSec < 0 {
		return errors.New("swipes_per_sec is negative")
	}
	for _, card := range c.Cards {
		if !wire.ValidID(card) {
			return fmt.Errorf("card %q is not 1-64 of A-Z a-z 0-9 . _ : -", card)
		}
	}
	ctrls := map[string]bool{}
	doors := map[string]bool{}
	for i := range c.Controllers {
		cc := &c.Controllers[i]
		if !wire.ValidID(cc.ID) || ctrls[cc.ID] {
			return fmt.Errorf("controllers[%d]: id %q is invalid or repeated", i, cc.ID)
		}
		ctrls[cc.ID] = true
		if cc.FailMode == "" {
			cc.FailMode = wire.FailSecure
		}
		if cc.FailMode != wire.FailSecure && cc.FailMode != wire.FailSafe {
			return fmt.Errorf("controller %s: fail_mode %q (want secure or safe)", cc.ID, cc.FailMode)
		}
		if cc.Heartbeat <= 0 {
			cc.Heartbeat = c.Heartbeat
		}
		readers := map[string]bool{}
		for j := range cc.Doors {
			d := &cc.Doors[j]
			if !wire.ValidID(d.ID) || doors[d.ID] {
				return fmt.Errorf("controller %s: door id %q is invalid or repeated", cc.ID, d.ID)
			}
			doors[d.ID] = true
			if d.UnlockS <= 0 {
				d.UnlockS = 5
			}
			if d.FailMode == "" {
				d.FailMode = cc.FailMode
			}
			if d.FailMode != wire.FailSecure && d.FailMode != wire.FailSafe {
				return fmt.Errorf("door %s: fail_mode %q (want secure or safe)", d.ID, d.FailMode)
			}
			for _, r := range d.Readers {
				if !wire.ValidID(r.ID) || readers[r.ID] {
					return fmt.Errorf("door %s: reader id %q is invalid or repeated", d.ID, r.ID)
				}
				readers[r.ID] = true
			}
		}
	}
	for i, s := range c.Script {
		if s.At < 0 || strings.TrimSpace(s.Do) == "" {
			return fmt.Errorf("script[%d]: needs at >= 0 and do", i)
		}
	}
	return nil
}
