package ogg

import "testing"

// page is one Ogg page holding segments of the given sizes.
func page(sizes ...int) []byte {
	p := append([]byte("OggS"), make([]byte, 22)...)
	p = append(p, byte(len(sizes)))
	total := 0
	for _, s := range sizes {
		p = append(p, byte(s))
		total += s
	}
	return append(p, make([]byte, total)...)
}

func TestPackets(t *testing.T) {
	// Three packets, the second 300 bytes (lacing 255 + 45), twice.
	one := page(3, 255, 45, 2)
	pkts, err := Packets(append(one, one...))
	if err != nil {
		t.Fatal(err)
	}
	if len(pkts) != 6 || len(pkts[0]) != 3 || len(pkts[1]) != 300 || len(pkts[2]) != 2 {
		t.Fatalf("%d packets", len(pkts))
	}
	// A packet may go on across pages.
	pkts, err = Packets(append(page(255), page(10)...))
	if err != nil || len(pkts) != 1 || len(pkts[0]) != 265 {
		t.Fatalf("across pages: %d packets, %v", len(pkts), err)
	}
	for name, bad := range map[string][]byte{"not Ogg": []byte("nope"), "short table": page(3)[:27], "short body": page(10)[:30]} {
		if _, err := Packets(bad); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzPackets(f *testing.F) {
	f.Add(page(3, 255, 45, 2))
	f.Add([]byte("OggS"))
	f.Fuzz(func(t *testing.T, b []byte) {
		pkts, err := Packets(b)
		if err != nil {
			return
		}
		n := 0
		for _, p := range pkts {
			n += len(p)
		}
		if n > len(b) {
			t.Fatalf("%d bytes of packets from %d of input", n, len(b))
		}
	})
}
