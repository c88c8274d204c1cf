package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"civic/building/mqttlink/simtest"
)

// TestBuildingSetupLockdownAndAccessInBrowser: the admin's editors
// (a floor, a schedule with weekly windows, a holiday, a door, a
// cardholder's cards) work from the page and explain a missing field; a
// lockdown asks for a reason, locks the building's doors on the
// controller and refuses cards, and is released; the access event search
// finds the refusal and its CSV export downloads it.
func TestBuildingSetupLockdownAndAccessInBrowser(t *testing.T) {
	r := newBuildingRig(t, []rigDoor{{ID: "east", Name: "东门 East entrance", UnlockSeconds: 2, HeldOpenSeconds: 30}})
	a := newTab(t, r.browser, "admin")
	editor := `[data-testid=setup-editor]`
	submit := `[data-testid=setup-editor-submit]`
	setupRow := func(key string) string { return fmt.Sprintf(`[data-testid=setup-table] tr[data-key=%q]`, key) }
	section := func(t *testing.T, name string) {
		t.Helper()
		a.do(t, "open "+name,
			chromedp.Click(chromedp.CSS(`[data-testid=setup-`+name+`]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=building-setup-pane][data-section=`+name+`]`)),
		)
	}

	step(t, "the admin adds a floor, a schedule, a holiday and a door in Setup", func(t *testing.T) {
		a.login(t, r.d.URL+"/#/building/setup", "admin", r.d.AdminPassword)
		a.do(t, "see the sites", chromedp.WaitVisible(chromedp.CSS(setupRow("hq"))))
		section(t, "floors")
		a.do(t, "new floor without a name",
			chromedp.WaitVisible(chromedp.CSS(setupRow("f1"))),
			chromedp.Click(chromedp.CSS(`[data-testid=setup-new]`)),
			chromedp.WaitVisible(chromedp.CSS(editor)),
			chromedp.SendKeys(chromedp.CSS(editor+` [data-testid=bf-id]`), "f2"),
			chromedp.Click(chromedp.CSS(submit)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=setup-editor-error]`)),
		)
		if msg := a.text(t, `[data-testid=setup-editor-error]`); msg != "“Name” is required." {
			t.Errorf("a missing name is explained as %q", msg)
		}
		a.do(t, "save the floor",
			chromedp.SendKeys(chromedp.CSS(editor+` [data-testid=bf-name]`), "二层 Second"),
			chromedp.SendKeys(chromedp.CSS(editor+` [data-testid=bf-level]`), "1"),
			chromedp.Click(chromedp.CSS(submit)),
			chromedp.WaitNotPresent(chromedp.CSS(editor)),
			chromedp.WaitVisible(chromedp.CSS(setupRow("f2"))),
		)
		if got := a.text(t, setupRow("f2")); !strings.Contains(got, "二层 Second") || !strings.Contains(got, "主楼 Main") {
			t.Errorf("floor row %q", got)
		}

		section(t, "schedules")
		a.do(t, "a schedule for office hours",
			chromedp.Click(chromedp.CSS(`[data-testid=setup-new]`)),
			chromedp.WaitVisible(chromedp.CSS(editor)),
			chromedp.SendKeys(chromedp.CSS(editor+` [data-testid=bf-id]`), "office"),
			chromedp.SendKeys(chromedp.CSS(editor+` [data-testid=bf-name]`), "办公时间 Office hours"),
			chromedp.Click(chromedp.CSS(`[data-testid=sched-weekdays]`)),
		)
		a.shot(t, r.shots, "62-building-schedule-editor")
		a.do(t, "save the schedule",
			chromedp.Click(chromedp.CSS(submit)),
			chromedp.WaitNotPresent(chromedp.CSS(editor)),
			chromedp.WaitVisible(chromedp.CSS(setupRow("office"))),
		)
		if got := a.text(t, setupRow("office")); !strings.Contains(got, "Mon 08:00-18:00") || !strings.Contains(got, "Fri 08:00-18:00") {
			t.Errorf("schedule row %q", got)
		}

		section(t, "holidays")
		a.do(t, "a holiday",
			chromedp.Click(chromedp.CSS(`[data-testid=setup-new]`)),
			chromedp.WaitVisible(chromedp.CSS(editor)),
			chromedp.SetValue(chromedp.CSS(editor+` [data-testid=bf-date]`), "2026-10-01"),
			chromedp.SendKeys(chromedp.CSS(editor+` [data-testid=bf-name]`), "国庆节 National Day"),
			chromedp.Click(chromedp.CSS(submit)),
			chromedp.WaitNotPresent(chromedp.CSS(editor)),
			chromedp.WaitVisible(chromedp.CSS(setupRow("2026-10-01"))),
		)

		section(t, "doors")
		// A camera to link (switched off: no offline alarm follows).
		r.call(t, "building.cameras.create", map[string]any{"camera": map[string]any{
			"id": "cam-north-1", "name": "北门 North camera", "rtsp_url": "rtsp://127.0.0.1:9/none", "enabled": false}}, nil)
		a.do(t, "a door on the new floor",
			chromedp.WaitVisible(chromedp.CSS(setupRow("east"))),
			chromedp.Click(chromedp.CSS(`[data-testid=setup-new]`)),
			chromedp.WaitVisible(chromedp.CSS(editor)),
			chromedp.SendKeys(chromedp.CSS(editor+` [data-testid=bf-id]`), "north"),
			chromedp.SendKeys(chromedp.CSS(editor+` [data-testid=bf-name]`), "北门 North door"),
			chromedp.SetValue(chromedp.CSS(editor+` [data-testid=bf-floor]`), "f2"),
			chromedp.SendKeys(chromedp.CSS(editor+` [data-testid=bf-reader_in]`), "north-in"),
			chromedp.Click(chromedp.CSS(editor+` [data-testid=bf-cameras][data-state=ready] label[data-camera=cam-north-1] input`)),
		)
		a.shot(t, r.shots, "63-building-door-editor")
		a.do(t, "save the door",
			chromedp.Click(chromedp.CSS(submit)),
			chromedp.WaitNotPresent(chromedp.CSS(editor)),
			chromedp.WaitVisible(chromedp.CSS(setupRow("north"))),
		)
		var doors struct {
			Doors []struct {
				ID, Floor, Controller string
				ReaderIn              string `json:"reader_in"`
				Cameras               []string
			}
		}
		r.call(t, "building.doors.list", nil, &doors)
		found := false
		for _, d := range doors.Doors {
			if d.ID == "north" {
				found = true
				if d.Floor != "f2" || d.Controller != rigController || d.ReaderIn != "north-in" || len(d.Cameras) != 1 || d.Cameras[0] != "cam-north-1" {
					t.Errorf("north as saved: %+v", d)
				}
			}
		}
		if !found {
			t.Errorf("no door north in %+v", doors.Doors)
		}
		// The live door list has it at once.
		a.poll(t, "north in the door list", fmt.Sprintf(`!!document.querySelector(%q)`, doorRow("north")))

		section(t, "controllers")
		a.do(t, "a controller with a short password",
			chromedp.WaitVisible(chromedp.CSS(setupRow(rigController))),
			chromedp.Click(chromedp.CSS(`[data-testid=setup-new]`)),
			chromedp.WaitVisible(chromedp.CSS(editor)),
			chromedp.SendKeys(chromedp.CSS(editor+` [data-testid=bf-id]`), "c2"),
			chromedp.SendKeys(chromedp.CSS(editor+` [data-testid=bf-name]`), "西区控制器 West panel"),
			chromedp.SendKeys(chromedp.CSS(editor+` [data-testid=bf-password]`), "short"),
			chromedp.Click(chromedp.CSS(submit)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=setup-editor-error]`)),
		)
		// The server's sentence names the rule.
		if msg := a.text(t, `[data-testid=setup-editor-error]`); !strings.Contains(msg, "12-72") {
			t.Errorf("a short password is explained as %q", msg)
		}
		a.do(t, "a long enough password",
			chromedp.SendKeys(chromedp.CSS(editor+` [data-testid=bf-password]`), "-and-now-long-enough"),
			chromedp.Click(chromedp.CSS(submit)),
			chromedp.WaitNotPresent(chromedp.CSS(editor)),
			chromedp.WaitVisible(chromedp.CSS(setupRow("c2"))),
		)
		if got := a.text(t, setupRow("c2")); !strings.Contains(got, "Offline") || !strings.Contains(got, "30 s") {
			t.Errorf("controller row %q, want offline with the default heartbeat", got)
		}

		section(t, "access_levels")
		a.do(t, "open north in office hours to the staff",
			chromedp.WaitVisible(chromedp.CSS(setupRow("staff"))),
			chromedp.Click(chromedp.CSS(setupRow("staff")+` [data-action=edit]`)),
			chromedp.WaitVisible(chromedp.CSS(editor+` [data-testid=level-doors] [data-door=north]`)),
			chromedp.Click(chromedp.CSS(editor+` [data-testid=level-doors] [data-door=north] input[type=checkbox]`)),
			chromedp.SetValue(chromedp.CSS(editor+` [data-testid=level-doors] [data-door=north] select`), "office"),
			chromedp.Click(chromedp.CSS(submit)),
			chromedp.WaitNotPresent(chromedp.CSS(editor)),
		)
		a.poll(t, "the level's doors", fmt.Sprintf(`document.querySelector(%q).textContent.includes("北门 North door (办公时间 Office hours)")`, setupRow("staff")))

		section(t, "cardholders")
		a.do(t, "give 李明 a second card",
			chromedp.WaitVisible(chromedp.CSS(setupRow("li"))),
			chromedp.Click(chromedp.CSS(setupRow("li")+` [data-action=edit]`)),
			chromedp.WaitVisible(chromedp.CSS(editor)),
			chromedp.SendKeys(chromedp.CSS(editor+` [data-testid=bf-cards]`), ", 04:b7:c0:01"),
			chromedp.Click(chromedp.CSS(submit)),
			chromedp.WaitNotPresent(chromedp.CSS(editor)),
		)
		a.poll(t, "both cards", fmt.Sprintf(`document.querySelector(%q).textContent.includes("04B7C001")`, setupRow("li")))
		if got := a.text(t, setupRow("li")); !strings.Contains(got, rigCard) || !strings.Contains(got, "全体员工 Staff") {
			t.Errorf("cardholder row %q", got)
		}
		a.shot(t, r.shots, "64-building-setup-cardholders")

		// A CSV import: one new cardholder, and 李明 updated by id.
		csvPath := filepath.Join(t.TempDir(), "staff.csv")
		csv := "id,name,department,cards,access_levels,responder\n" +
			"li,李明 Li Ming,办公室 Office,\"" + rigCard + "; 04:b7:c0:01\",staff,no\n" +
			"zhao,赵强 Zhao Qiang,保卫处 Security,04C0FFEE,staff,yes\n"
		if err := os.WriteFile(csvPath, []byte(csv), 0o600); err != nil {
			t.Fatal(err)
		}
		a.do(t, "import staff.csv",
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=setup-import]`)),
			chromedp.SetUploadFiles(chromedp.CSS(`[data-testid=setup-import-file]`), []string{csvPath}),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=confirm-dialog] button[value=ok]`)),
			chromedp.Click(chromedp.CSS(`[data-testid=confirm-dialog] button[value=ok]`)),
			chromedp.WaitVisible(chromedp.CSS(setupRow("zhao"))),
		)
		if got := a.text(t, setupRow("zhao")); !strings.Contains(got, "04C0FFEE") || !strings.Contains(got, "赵强") {
			t.Errorf("imported row %q", got)
		}
		a.shot(t, r.shots, "64b-building-cardholders-imported")
		r.pollAudit(t, "building.cardholders.import", func(e auditEntry) bool { return e.Result == "ok" && strings.Contains(e.Detail, "1 created, 1 updated") })
	})

	step(t, "a granted card before the lockdown", func(t *testing.T) {
		mark := r.sim.Mark()
		r.sim.Do(t, fmt.Sprintf("swipe %s east-in %s", rigController, rigCard))
		r.sim.WaitAfter(t, mark, "the grant", simtest.Match("decision", "reader", "east-in", "granted", true))
		r.sim.WaitAfter(t, mark, "the relock", simtest.Match("door", "door", "east", "lock", "locked", "why", "relock"))
	})

	step(t, "a lockdown needs a reason, locks the doors and refuses cards", func(t *testing.T) {
		a.do(t, "open the lockdown dialog",
			chromedp.Click(chromedp.CSS(`[data-testid=building-tab-doors]`)),
			chromedp.Click(chromedp.CSS(`[data-testid=lockdown-start]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=lockdown-dialog]`)),
			chromedp.Click(chromedp.CSS(`[data-testid=lockdown-confirm]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=lockdown-error]`)),
		)
		if msg := a.text(t, `[data-testid=lockdown-error]`); msg != "Enter the reason for the lockdown." {
			t.Errorf("a missing reason is explained as %q", msg)
		}
		mark := r.sim.Mark()
		a.do(t, "lock down the main building",
			chromedp.SetValue(chromedp.CSS(`[data-testid=lockdown-scope]`), "building:main"),
			chromedp.SendKeys(chromedp.CSS(`[data-testid=lockdown-reason]`), "消防演练 Fire drill"),
		)
		a.shot(t, r.shots, "65-building-lockdown-dialog")
		a.do(t, "confirm",
			chromedp.Click(chromedp.CSS(`[data-testid=lockdown-confirm]`)),
			chromedp.WaitNotPresent(chromedp.CSS(`[data-testid=lockdown-dialog]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=lockdown-bar] [data-testid=lockdown-release]`)),
		)
		if got := a.text(t, `[data-testid=lockdown-bar]`); !strings.Contains(got, "LOCKDOWN: Building 主楼 Main") || !strings.Contains(got, "Fire drill") {
			t.Errorf("lockdown bar %q", got)
		}
		r.sim.WaitAfter(t, mark, "the lockdown mode", simtest.Match("command", "door", "east", "action", "mode", "mode", "locked_down"))
		a.poll(t, "east locked down in the list", fmt.Sprintf(`document.querySelector(%q).textContent.includes("Locked down")`, doorRow("east")))
		a.do(t, "select east", chromedp.Click(chromedp.CSS(doorRow("east"))), chromedp.WaitVisible(chromedp.CSS(`[data-testid=door-detail][data-door=east]`)))
		if !evalAs[bool](t, a, `document.querySelector('[data-testid=door-unlock]').disabled`) {
			t.Error("Unlock is offered during the lockdown")
		}
		mark = r.sim.Mark()
		r.sim.Do(t, fmt.Sprintf("swipe %s east-in %s", rigController, rigCard))
		d := r.sim.WaitAfter(t, mark, "the refusal", simtest.Match("decision", "reader", "east-in", "granted", false))
		if d.Str("reason") != "lockdown" {
			t.Errorf("decision during the lockdown: %v", d)
		}
		a.poll(t, "the refusal in the door's events", `[...document.querySelectorAll('[data-testid=door-events] li.ev-denied')].some(li => li.textContent.includes("Lockdown"))`)
		a.shot(t, r.shots, "66-building-lockdown")
		a.do(t, "release",
			chromedp.Click(chromedp.CSS(`[data-testid=lockdown-release]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=confirm-dialog]`)),
			chromedp.Click(chromedp.CSS(`[data-testid=confirm-dialog] button[value=ok]`)),
			chromedp.WaitNotVisible(chromedp.CSS(`[data-testid=lockdown-bar]`)),
		)
		a.poll(t, "east no longer locked down", fmt.Sprintf(`!document.querySelector(%q).textContent.includes("Locked down")`, doorRow("east")))
		e := r.pollAudit(t, "building.lockdown", func(e auditEntry) bool { return e.Result == "ok" })
		if !strings.Contains(e.Detail, "Fire drill") {
			t.Errorf("lockdown audit %+v, want the reason", e)
		}
		r.pollAudit(t, "building.lockdown_release", func(e auditEntry) bool { return e.Result == "ok" && e.User == "admin" })
	})

	step(t, "the access search finds the refusal and exports it", func(t *testing.T) {
		a.do(t, "open the access events",
			chromedp.Click(chromedp.CSS(`[data-testid=building-tab-access]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid=access-table]`)),
		)
		a.poll(t, "both events", `document.querySelectorAll('[data-testid=access-table] tbody tr').length === 2`)
		a.do(t, "only refusals",
			chromedp.SetValue(chromedp.CSS(`[data-testid=access-filter-granted]`), "false"),
			chromedp.SetValue(chromedp.CSS(`[data-testid=access-filter-door]`), "east"),
			chromedp.Click(chromedp.CSS(`[data-testid=access-apply]`)),
		)
		a.poll(t, "one refusal", `(() => {
			const rows = document.querySelectorAll('[data-testid=access-table] tbody tr');
			return rows.length === 1 && rows[0].dataset.granted === "false" && rows[0].textContent.includes("李明 Li Ming");
		})()`)
		if href := evalAs[string](t, a, `document.querySelector('[data-testid=access-export]').getAttribute('href')`); href != "/api/building/access.csv?door=east&granted=false" {
			t.Errorf("export link %q", href)
		}
		a.shot(t, r.shots, "67-building-access-events")
		rows := a.downloadCSV(t, `[data-testid=access-export]`)
		if len(rows) != 2 || strings.Join(rows[0], ",") != "id,time,door,door_name,controller,reader,direction,card,cardholder,cardholder_name,granted,reason" {
			t.Fatalf("CSV %q, want the header and one refusal", rows)
		}
		if got := rows[1]; got[2] != "east" || got[7] != rigCard || got[9] != "李明 Li Ming" || got[10] != "false" || got[11] != "lockdown" {
			t.Errorf("CSV row %q", got)
		}
		switchLang(t, a, "zh-CN", "楼宇门禁")
		a.poll(t, "the refusal in Chinese", `document.querySelector('[data-testid=access-table] tbody tr').textContent.includes("封锁中")`)
		a.shot(t, r.shots, "68-building-access-events-zh")
	})

	a.checkProblems(t)
	r.d.stop(t)
}
