package main

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/reftrail/reftrail/internal/chstore"
	"github.com/reftrail/reftrail/internal/dev/testenv"
	"github.com/reftrail/reftrail/internal/event"
)

// browser runs a headless Chromium (Debian's chromium) for t, recording what
// a page must never do: log an error, throw, or ask another host for
// anything.
type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	problems []string
	foreign  []string
}

func newBrowser(t *testing.T, allowedHost string) *browser {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		testenv.Unavailable(t, "chromium not found (Debian package chromium): %v", err)
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	b := &browser{ctx: ctx}
	err = chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				b.problems = append(b.problems, "console."+string(ev.Type))
			}
		case *runtime.EventExceptionThrown:
			b.problems = append(b.problems, "exception: "+ev.ExceptionDetails.Text)
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
				b.problems = append(b.problems, string(ev.Entry.Source)+": "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			if u, err := url.Parse(ev.Request.URL); err == nil && u.Scheme != "data" && u.Host != allowedHost {
				b.foreign = append(b.foreign, ev.Request.URL)
			}
		}
	})
	if err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("watching the network: %v", err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("watching the browser log: %v", err)
	}
	return b
}

// check fails t for every problem recorded since the last check but those
// expected (substrings of a problem, each expected exactly once), and forgets
// them.
func (b *browser) check(t *testing.T, expected ...string) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	seen := make([]bool, len(expected))
problems:
	for _, p := range b.problems {
		for i, e := range expected {
			if !seen[i] && strings.Contains(p, e) {
				seen[i] = true
				continue problems
			}
		}
		t.Errorf("the page reported: %s", p)
	}
	for i, e := range expected {
		if !seen[i] {
			t.Errorf("the page did not report %q", e)
		}
	}
	for _, u := range b.foreign {
		t.Errorf("the page asked another host: %s", u)
	}
	b.problems, b.foreign = nil, nil
}

// screenshot keeps a full-page screenshot as a test artefact: in the test's
// temporary directory, and in $REFTRAIL_ARTEFACTS when set.
func (b *browser) screenshot(t *testing.T, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := os.Getenv("REFTRAIL_ARTEFACTS"); out != "" {
		if err := os.MkdirAll(out, 0o755); err != nil {
			t.Fatal(err)
		}
		path = filepath.Join(out, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshot: %s", path)
}

// drawn returns what the chart of id drew: "label|series|value" for every
// bar and point, in order.
func (b *browser) drawn(t *testing.T, id string) []string {
	t.Helper()
	got, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#`+id+` .bar, #`+id+` .point")).map(e => e.dataset.label + "|" + e.dataset.series + "|" + e.dataset.value)`))
	if err != nil {
		t.Fatalf("reading chart %s: %v", id, err)
	}
	return got
}

// table returns the text of the cells of the rows matching selector.
func (b *browser) table(t *testing.T, selector string) [][]string {
	t.Helper()
	got, err := chromedp.Run(b.ctx, chromedp.Evaluate[[][]string](`Array.from(document.querySelectorAll(`+strconv.Quote(selector)+`)).map(tr => Array.from(tr.children).map(c => c.textContent.replace(/\s+/g, " ").trim()))`))
	if err != nil {
		t.Fatalf("reading %s: %v", selector, err)
	}
	return got
}

// visit loads path and waits for selector to show.
func (b *browser) visit(t *testing.T, base, path, selector string) {
	t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS(selector))); err != nil {
		t.Fatalf("loading %s: %v", path, err)
	}
}

// insertReferrals stores, for 2 March 2026, two referrals of the link the
// page test makes (one answered conversation) and one of an uncataloged ref,
// each event twice as at-least-once delivery may.
func insertReferrals(t *testing.T, c *console) {
	t.Helper()
	ctx := context.Background()
	store, err := chstore.Open(ctx, c.chcfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer store.Close()
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC).UnixMilli()
	ev := func(id string, kind event.Kind, who string, minutes int64, ref string) event.Event {
		e := event.Event{EventID: id, Platform: event.Instagram, Kind: kind, AccountID: "ig-1", ParticipantID: who,
			EventTime: t0 + minutes*60000, ReceivedTime: t0 + minutes*60000, Thread: event.ThreadUnknown}
		if ref != "" {
			e.Thread, e.Referral = event.ThreadExisting, &event.Referral{Ref: ref, Source: "SHORTLINK", Type: "OPEN_THREAD"}
		}
		return e
	}
	evs := []event.Event{
		ev("r1", event.KindReferral, "p1", 0, "spring-2026_qr-poster_a"), ev("m1", event.KindMessage, "p1", 5, ""), ev("e1", event.KindEcho, "p1", 9, ""),
		ev("r2", event.KindReferral, "p2", 30, "spring-2026_qr-poster_a"),
		ev("r3", event.KindReferral, "p3", 60, "flyer"),
	}
	for range 2 {
		if err := store.InsertEvents(ctx, evs, time.Now()); err != nil {
			t.Fatalf("InsertEvents: %v", err)
		}
	}
}

func TestIntegrationPagesInChromium(t *testing.T) {
	t.Parallel()
	c := startConsole(t, map[string]string{"CONSOLE_TOKEN": testToken})
	u, _ := url.Parse(c.base)
	b := newBrowser(t, u.Host)
	dir := t.TempDir()

	// The links page sends a visitor without the cookie to the login form,
	// and back after it.
	err := chromedp.Do(b.ctx,
		chromedp.Navigate(c.base+"/links"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), testToken),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.ID("handle")),
	)
	if err != nil {
		t.Fatalf("logging in: %v", err)
	}
	if path, err := chromedp.Run(b.ctx, chromedp.Evaluate[string]("location.pathname")); err != nil || path != "/links" {
		t.Errorf("after login the browser is at %q (%v), want /links", path, err)
	}

	// Make a link through the form; the page shows it with its QR code.
	err = chromedp.Do(b.ctx,
		chromedp.Click(chromedp.CSS(`input[name="platform"][value="instagram"]`)),
		chromedp.SendKeys(chromedp.ID("handle"), "shop.berlin"),
		chromedp.SendKeys(chromedp.ID("campaign"), "Spring 2026"),
		chromedp.SendKeys(chromedp.ID("channel"), "QR poster"),
		chromedp.SendKeys(chromedp.ID("variant"), "A"),
		chromedp.Click(chromedp.CSS("button.primary")),
		chromedp.WaitVisible(chromedp.ID("qr-preview")),
	)
	if err != nil {
		t.Fatalf("making a link through the form: %v", err)
	}
	loaded, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`(() => { const i = document.getElementById("qr-preview"); return i.complete && i.naturalWidth > 0; })()`, chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil || !loaded {
		t.Errorf("the QR preview did not load: %v", err)
	}
	shownURL, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.ID("shown-url")))
	if err != nil {
		t.Fatalf("reading the link shown: %v", err)
	}
	if want := "https://ig.me/m/shop.berlin?ref=spring-2026_qr-poster_a"; shownURL != want {
		t.Errorf("the page shows the link %q, want %q", shownURL, want)
	}
	b.screenshot(t, dir, "console-links.png")

	// Copy link puts the link on the clipboard.
	for _, name := range []string{"clipboard-read", "clipboard-write"} {
		_, err := chromedp.CallBrowser(b.ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
			Permission: &cdpbrowser.PermissionDescriptor{Name: name}, Setting: cdpbrowser.PermissionSettingGranted, Origin: c.base,
		})
		if err != nil {
			t.Fatalf("granting %s: %v", name, err)
		}
	}
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS("button[data-copy]"))); err != nil {
		t.Fatalf("clicking Copy link: %v", err)
	}
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`document.querySelector(".copy-status").textContent === "Link copied."`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Errorf("Copy link did not say it copied: %v", err)
	}
	clip, err := chromedp.Run(b.ctx, chromedp.Evaluate[string]("navigator.clipboard.readText()", chromedp.EvalAwaitPromise))
	if err != nil || clip != shownURL {
		t.Errorf("clipboard holds %q (%v), want the link %q", clip, err, shownURL)
	}
	b.check(t)

	// A bad ref comes back on the form, marked, with the rule.
	err = chromedp.Do(b.ctx,
		chromedp.SendKeys(chromedp.ID("handle"), "shop.berlin"),
		chromedp.SendKeys(chromedp.ID("ref"), "spring sale"),
		chromedp.Click(chromedp.CSS("button.primary")),
		chromedp.WaitVisible(chromedp.ID("form-error")),
	)
	if err != nil {
		t.Fatalf("sending a bad ref: %v", err)
	}
	errText, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.ID("form-error")))
	if err != nil {
		t.Fatal(err)
	}
	invalid, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.ID("ref"), "aria-invalid"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(errText, "Ref: character ' '") || invalid.Value != "true" {
		t.Errorf("form error %q, ref aria-invalid %q; want the ref rule and the field marked", errText, invalid.Value)
	}
	// The form comes back with status 400, which Chromium logs.
	b.check(t, "status of 400 (Bad Request) "+c.base+"/links")

	// Referrals of the new link and of a ref the catalog lacks, then the
	// campaigns page: its funnel with rates.
	insertReferrals(t, c)
	err = chromedp.Do(b.ctx,
		chromedp.Navigate(c.base+"/campaigns?from=2026-03-01&to=2026-03-03&by=campaign"),
		chromedp.WaitVisible(chromedp.CSS("table.funnel")),
	)
	if err != nil {
		t.Fatalf("campaigns page: %v", err)
	}
	rows, err := chromedp.Run(b.ctx, chromedp.Evaluate[[][]string](`Array.from(document.querySelectorAll("table.funnel tbody tr")).map(tr => Array.from(tr.children).slice(0, 6).map(c => c.innerText.replace(/\s+/g, " ").trim()))`))
	if err != nil {
		t.Fatalf("reading the funnel table: %v", err)
	}
	want := [][]string{
		// campaign, opened, people, wrote, got a reply, came back
		{"Spring 2026", "2", "2", "1 (50% of opened)", "1 (100% of those who wrote)", "0 (0% of those answered)"},
		{"(uncataloged)", "1", "1", "0 (0% of opened)", "0 (0% of those who wrote)", "0 (0% of those answered)"},
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("campaigns table (-want +got):\n%s", diff)
	}
	credit, err := chromedp.Run(b.ctx, chromedp.Evaluate[[][]string](`Array.from(document.querySelectorAll("table.credit tbody tr")).map(tr => Array.from(tr.children).map(c => c.innerText.trim()))`))
	if err != nil {
		t.Fatalf("reading the credit table: %v", err)
	}
	// p1's message is the one new conversation, after the spring link.
	if diff := cmp.Diff([][]string{{"Spring 2026", "1", "1"}}, credit); diff != "" {
		t.Errorf("credit table (-want +got):\n%s", diff)
	}
	daily, err := chromedp.Run(b.ctx, chromedp.Evaluate[[][]string](`Array.from(document.querySelectorAll("table.daily tr")).map(tr => Array.from(tr.children).map(c => c.innerText.trim()))`))
	if err != nil {
		t.Fatalf("reading the daily table: %v", err)
	}
	wantDaily := [][]string{{"Day (UTC)", "Spring 2026", "(uncataloged)", "All"}, {"Mon 2 Mar 2026", "2", "1", "3"}}
	if diff := cmp.Diff(wantDaily, daily); diff != "" {
		t.Errorf("daily table (-want +got):\n%s", diff)
	}
	b.screenshot(t, dir, "console-campaigns.png")
	err = chromedp.Do(b.ctx,
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(c.base+"/links?ref=spring-2026_qr-poster_a"),
		chromedp.WaitVisible(chromedp.ID("qr-preview")),
	)
	if err != nil {
		t.Fatalf("links page on a phone: %v", err)
	}
	b.screenshot(t, dir, "console-links-phone.png")
	b.check(t)
}

// payloadMarker stands for message content in the dead letters' payloads: no
// page may show it.
const payloadMarker = "MESSAGE-TEXT-MUST-NOT-SHOW"

// insertDeadLetters stores three dead letters of 2 March 2026, two for one
// reason.
func insertDeadLetters(t *testing.T, c *console) {
	t.Helper()
	ctx := context.Background()
	store, err := chstore.Open(ctx, c.chcfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer store.Close()
	t0 := time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC)
	var dls []chstore.DeadLetter
	for i, reason := range []string{"invalid_json", "invalid_json", "not_meta_envelope"} {
		dls = append(dls, chstore.DeadLetter{
			RawTopic: "meta.webhooks.raw", RawOffset: int64(i), Reason: reason, Stage: "enrich", Detail: "body: " + reason,
			Payload: []byte(payloadMarker), ReceivedTime: t0.Add(time.Duration(i) * time.Minute).UnixMilli(),
		})
	}
	if err := store.InsertDeadLetters(ctx, dls, t0); err != nil {
		t.Fatalf("InsertDeadLetters: %v", err)
	}
}

// TestIntegrationChartsInChromium loads the overview, campaigns and dead
// letters pages over known data: every chart draws exactly the data's points,
// no page logs an error or asks another host, and the period follows the
// browser's time zone.
func TestIntegrationChartsInChromium(t *testing.T) {
	t.Parallel()
	c := startConsole(t, nil)
	u, _ := url.Parse(c.base)
	b := newBrowser(t, u.Host)
	dir := t.TempDir()
	if code, body, _ := c.do(t, "POST", "/api/v1/links", `{"platform":"instagram","handle":"shop.berlin","campaign":"Spring 2026","channel":"QR poster","variant":"A"}`); code != http.StatusCreated {
		t.Fatalf("making the link: %d %s", code, body)
	}
	insertReferrals(t, c)
	insertDeadLetters(t, c)
	days := "period=custom&from=2026-03-01&to=2026-03-03&tz=UTC"

	b.visit(t, c.base, "/overview?"+days, "#daily-chart")
	want := []string{"Sun 1 Mar|Links opened|0", "Mon 2 Mar|Links opened|3", "Tue 3 Mar|Links opened|0"}
	if diff := cmp.Diff(want, b.drawn(t, "daily-chart")); diff != "" {
		t.Errorf("overview, referrals per day (-want +got):\n%s", diff)
	}
	want = []string{"Spring 2026|Conversion|50", "(uncataloged)|Conversion|0"}
	if diff := cmp.Diff(want, b.drawn(t, "top-chart")); diff != "" {
		t.Errorf("overview, top campaigns (-want +got):\n%s", diff)
	}
	wantRows := [][]string{{"invalid_json", "enrich", "2"}, {"not_meta_envelope", "enrich", "1"}}
	if diff := cmp.Diff(wantRows, b.table(t, "table.overview-dead tbody tr")); diff != "" {
		t.Errorf("overview, dead letters (-want +got):\n%s", diff)
	}
	b.screenshot(t, dir, "console-overview.png")
	b.check(t)

	// "See every campaign" keeps the period.
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(`a[href^="/campaigns?"]`)), chromedp.WaitVisible(chromedp.ID("funnel-chart"))); err != nil {
		t.Fatalf("from the overview to the campaigns: %v", err)
	}
	if from, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.ID("from"))); err != nil || from != "2026-03-01" {
		t.Errorf("the campaigns page starts on %q (%v), want the overview's 2026-03-01", from, err)
	}
	want = []string{
		"Spring 2026|Opened|2", "Spring 2026|Wrote|1", "Spring 2026|Got a reply|1", "Spring 2026|Came back|0",
		"(uncataloged)|Opened|1", "(uncataloged)|Wrote|0", "(uncataloged)|Got a reply|0", "(uncataloged)|Came back|0",
	}
	if diff := cmp.Diff(want, b.drawn(t, "funnel-chart")); diff != "" {
		t.Errorf("campaigns, funnel (-want +got):\n%s", diff)
	}
	want = []string{"Spring 2026|First link|1", "Spring 2026|Latest link|1"}
	if diff := cmp.Diff(want, b.drawn(t, "credit-chart")); diff != "" {
		t.Errorf("campaigns, credit (-want +got):\n%s", diff)
	}
	want = []string{"Mon 2 Mar|Spring 2026|2", "Mon 2 Mar|(uncataloged)|1"}
	if diff := cmp.Diff(want, b.drawn(t, "daily-chart")); diff != "" {
		t.Errorf("campaigns, per day (-want +got):\n%s", diff)
	}
	b.screenshot(t, dir, "console-campaigns-charts.png")
	// A campaign leads to its links and their refs.
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(`table.funnel a[href^="/links?campaign="]`)), chromedp.WaitVisible(chromedp.ID("list-title"))); err != nil {
		t.Fatalf("choosing a campaign: %v", err)
	}
	title, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.ID("list-title")))
	if err != nil || title != "Links of campaign Spring 2026" {
		t.Errorf("after choosing the campaign the list is %q (%v)", title, err)
	}
	b.check(t)

	b.visit(t, c.base, "/dead-letters?"+days, "#dead-chart")
	want = []string{"invalid_json (enrich)|Dead letters|2", "not_meta_envelope (enrich)|Dead letters|1"}
	if diff := cmp.Diff(want, b.drawn(t, "dead-chart")); diff != "" {
		t.Errorf("dead letters chart (-want +got):\n%s", diff)
	}
	newest := b.table(t, "table.dead-newest tbody tr")
	if len(newest) != 3 || newest[0][1] != "not_meta_envelope" || newest[0][4] != "meta.webhooks.raw/0@2" {
		t.Errorf("newest dead letters = %q, want 3, newest first", newest)
	}
	html, err := chromedp.Run(b.ctx, chromedp.Evaluate[string]("document.documentElement.outerHTML"))
	if err != nil || strings.Contains(html, payloadMarker) || !strings.Contains(html, "reftrailctl replay dlq --reason invalid_json --from 2026-03-01T00:00:00Z --to 2026-03-04T00:00:00Z") {
		t.Errorf("the dead letters page shows a payload, or not the replay command (%v)", err)
	}
	b.screenshot(t, dir, "console-dead-letters.png")
	b.check(t)

	// Without a zone chosen, the browser's is taken and kept.
	if _, err := chromedp.Call(b.ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Tokyo"}); err != nil {
		t.Fatalf("setting the browser's zone: %v", err)
	}
	b.visit(t, c.base, "/overview", "#daily-chart")
	zone, err := chromedp.Run(b.ctx, chromedp.Poll[string](`document.getElementById("tz").value === "Asia/Tokyo" && document.getElementById("tz").value`, chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil || zone != "Asia/Tokyo" {
		t.Errorf("the overview's zone is %q (%v), want the browser's Asia/Tokyo", zone, err)
	}
	b.visit(t, c.base, "/campaigns", "#period")
	if zone, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.ID("tz"))); err != nil || zone != "Asia/Tokyo" {
		t.Errorf("the next page's zone is %q (%v), want Asia/Tokyo kept", zone, err)
	}
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(c.base+"/overview?"+days), chromedp.WaitVisible(chromedp.ID("daily-chart"))); err != nil {
		t.Fatalf("overview on a phone: %v", err)
	}
	b.screenshot(t, dir, "console-overview-phone.png")
	b.check(t)
}

// TestIntegrationLookupInChromium picks a person on the open windows page,
// looks them up, types another's ids into the lookup form, and reads the
// overview's pipeline health, over the people of newWindowsData.
func TestIntegrationLookupInChromium(t *testing.T) {
	t.Parallel()
	c := startConsole(t, nil)
	u, _ := url.Parse(c.base)
	b := newBrowser(t, u.Host)
	dir := t.TempDir()
	d := newWindowsData()
	insertWindowsData(t, c, d)

	b.visit(t, c.base, "/windows?platform=instagram&account_id=ig-1", "table.windows")
	rows := b.table(t, "table.windows tbody tr")
	if len(rows) != 2 || rows[0][0] != "p1" || rows[0][1] != "24 hours" || rows[1][0] != "p2" || rows[1][1] != "7 days (ad)" {
		t.Errorf("open windows of ig-1 = %q, want p1 (24 hours) then p2 (7 days)", rows)
	}
	b.screenshot(t, dir, "console-windows.png")
	b.check(t)

	// Pick p1: the lookup shows their latest and first link and the history.
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(`table.windows a`)), chromedp.WaitVisible(chromedp.ID("timeline"))); err != nil {
		t.Fatalf("picking p1: %v", err)
	}
	texts, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`["latest-ref", "first-ref", "window"].map(id => document.getElementById(id).textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(texts[0], "spring SHORTLINK") || !strings.HasPrefix(texts[1], "winter SHORTLINK") || !strings.HasPrefix(texts[2], "open (24 hours") {
		t.Errorf("p1's latest, first and window read %q", texts)
	}
	timeline, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#timeline li strong, #timeline li code")).map(e => e.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"Opened a link", "winter", "Opened a link", "spring"}, timeline); diff != "" {
		t.Errorf("p1's timeline (-want +got):\n%s", diff)
	}
	b.screenshot(t, dir, "console-participant.png")
	b.check(t)

	// Type p2's ids: the ad that brought them.
	err = chromedp.Do(b.ctx,
		chromedp.Navigate(c.base+"/participants"),
		chromedp.WaitVisible(chromedp.ID("participant_id")),
		chromedp.SetValue(chromedp.ID("platform"), "instagram"),
		chromedp.SendKeys(chromedp.ID("account_id"), "ig-1"),
		chromedp.SendKeys(chromedp.ID("participant_id"), "p2"),
		chromedp.Submit(chromedp.ID("participant_id")),
		chromedp.WaitVisible(chromedp.ID("timeline")),
	)
	if err != nil {
		t.Fatalf("looking up p2: %v", err)
	}
	if latest, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.ID("latest-ref"))); err != nil || !strings.HasPrefix(strings.Join(strings.Fields(latest), " "), "no ref ADS, ad ad-9") {
		t.Errorf("p2's latest referral reads %q (%v)", latest, err)
	}
	b.check(t)
	// An unknown person: 404, with words.
	b.visit(t, c.base, "/participants?platform=instagram&account_id=ig-1&participant_id=nobody", "#lookup-error")
	b.check(t, "status of 404 (Not Found)")

	b.visit(t, c.base, "/overview?period=7d&tz=UTC", "#events-chart")
	total, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.ID("events-total")))
	if err != nil || total != strconv.Itoa(len(d.evs)) {
		t.Errorf("events received in 7 days: %q (%v), want %d", total, err, len(d.evs))
	}
	// 7 days in 84 points of 2 hours.
	points := b.drawn(t, "events-chart")
	sum := 0
	for _, p := range points {
		v, _ := strconv.Atoi(p[strings.LastIndex(p, "|")+1:])
		sum += v
	}
	if len(points) != 84 || sum != len(d.evs) {
		t.Errorf("events chart: %d points adding up to %d events, want 84 points and %d", len(points), sum, len(d.evs))
	}
	b.screenshot(t, dir, "console-overview-health.png")
	b.check(t)
}
